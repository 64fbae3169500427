// A 2 GiB artifact (generated, never committed) up and down through the real server's
// proxy, byte-exact, with the transferring process's peak memory measured in a separate
// small program (tests/integration/probes/artifact_probe.cpp) so that the figure is clean.
// Tagged [large] and labelled `large` in CTest (`ctest -L large` runs it alone); it is part
// of the default suite. MLFLOWPP_TEST_LARGE_ARTIFACT_BYTES changes the size (tests only).
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mlflowpp/mlflowpp.hpp>
#include <string>
#include <vector>

#include "integration/artifact_test_util.hpp"
#include "integration/server.hpp"

namespace fs = std::filesystem;

namespace {

constexpr int64_t kDefaultSize = int64_t{2} << 30;    // 2 GiB
constexpr int64_t kMaxGrowthKiB = int64_t{64} << 10;  // 64 MiB

int64_t large_size() {
  const char* v = std::getenv("MLFLOWPP_TEST_LARGE_ARTIFACT_BYTES");
  if (v == nullptr || *v == '\0') return kDefaultSize;
  return std::strtoll(v, nullptr, 10);
}

/// Fills block `index` of the file: xorshift64 words seeded by the block index, so that
/// every block differs (a misplaced block cannot compare equal).
void fill_block(std::vector<char>& buf, uint64_t index) {
  uint64_t x = 0x9E3779B97F4A7C15ULL * (index + 1);
  for (std::size_t i = 0; i + 8 <= buf.size(); i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(&buf[i], &x, 8);
  }
}

void generate(const fs::path& path, int64_t size) {
  std::vector<char> buf(8 << 20);
  std::ofstream out(path, std::ios::binary);
  for (int64_t done = 0, index = 0; done < size; ++index) {
    fill_block(buf, static_cast<uint64_t>(index));
    const int64_t n = std::min<int64_t>(static_cast<int64_t>(buf.size()), size - done);
    out.write(buf.data(), n);
    done += n;
  }
  REQUIRE(out.good());
}

/// The first offset where the files differ, or -1 when they are identical.
int64_t first_difference(const fs::path& a, const fs::path& b) {
  if (fs::file_size(a) != fs::file_size(b))
    return static_cast<int64_t>(std::min(fs::file_size(a), fs::file_size(b)));
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  std::vector<char> ba(8 << 20), bb(8 << 20);
  int64_t offset = 0;
  while (fa && fb) {
    fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
    fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
    const auto na = fa.gcount(), nb = fb.gcount();
    if (na != nb) return offset;
    if (std::memcmp(ba.data(), bb.data(), static_cast<std::size_t>(na)) != 0) {
      for (std::streamsize i = 0; i < na; ++i)
        if (ba[static_cast<std::size_t>(i)] != bb[static_cast<std::size_t>(i)]) return offset + i;
    }
    offset += na;
  }
  return -1;
}

/// The integer after "key=" in the probe's line, or -1.
int64_t field(const std::string& line, const std::string& key) {
  const auto at = line.find(" " + key + "=");
  if (at == std::string::npos) return -1;
  return std::strtoll(line.c_str() + at + key.size() + 2, nullptr, 10);
}

double field_double(const std::string& line, const std::string& key) {
  const auto at = line.find(" " + key + "=");
  if (at == std::string::npos) return -1;
  return std::strtod(line.c_str() + at + key.size() + 2, nullptr);
}

struct ProbeResult {
  int exit_code;
  std::string line;
};

ProbeResult probe(const std::vector<std::string>& args) {
  std::string cmd = atest::shell_quote(MLFLOWPP_ARTIFACT_PROBE);
  for (const auto& a : args) cmd += " " + atest::shell_quote(a);
  auto r = atest::run_command(cmd);
  return {r.exit_code, r.output};
}

}  // namespace

TEST_CASE("artifacts (large): 2 GiB up and down, byte-exact, the transferring process's memory flat",
          "[integration][artifacts][large][rest]") {
  if (!testing::have_server()) return;
  const int64_t size = large_size();
  REQUIRE(size > 0);
  atest::TempDir tmp("large");
  const fs::path src = tmp / "big.bin";
  auto t0 = std::chrono::steady_clock::now();
  generate(src, size);
  const double gen_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  auto client = testing::client();
  const std::string run = atest::new_run(client, "large");
  struct Cleanup {
    mlflowpp::Client& client;
    const std::string& run;
    ~Cleanup() {
      try {
        client.delete_artifacts(run, "big");  // the server's copy: 2 GiB of its disk
      } catch (...) {
      }
    }
  } cleanup{client, run};

  const auto up = probe({"upload", testing::tracking_uri(), run, src.string(), "big"});
  INFO("probe (upload): " << up.line);
  REQUIRE(up.exit_code == 0);
  CHECK(field(up.line, "bytes") == size);
  const int64_t up_growth = field(up.line, "hwm_after_kib") - field(up.line, "hwm_before_kib");
  CHECK(field(up.line, "hwm_before_kib") > 0);
  CHECK(up_growth < kMaxGrowthKiB);
  CHECK(up.line.find("progress_last=" + std::to_string(size) + "/" + std::to_string(size)) !=
        std::string::npos);
  CHECK(field(up.line, "progress_calls") > 2);

  const auto listed = client.list_artifacts(run, "big");
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].path == "big/big.bin");
  CHECK(listed[0].file_size == std::optional<int64_t>(size));

  const auto down = probe({"download", testing::tracking_uri(), run, "big/big.bin", (tmp / "dst").string()});
  INFO("probe (download): " << down.line);
  REQUIRE(down.exit_code == 0);
  CHECK(field(down.line, "bytes") == size);
  const int64_t down_growth = field(down.line, "hwm_after_kib") - field(down.line, "hwm_before_kib");
  CHECK(down_growth < kMaxGrowthKiB);
  CHECK(down.line.find("progress_last=" + std::to_string(size) + "/" + std::to_string(size)) !=
        std::string::npos);

  t0 = std::chrono::steady_clock::now();
  CHECK(first_difference(src, tmp / "dst/big/big.bin") == -1);
  const double cmp_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(tmp / "dst/big")) left.push_back(e.path().filename().string());
  CHECK(left == std::vector<std::string>{"big.bin"});  // no temporary left behind

  std::cout << "large artifact: " << size << " bytes; generate " << gen_s << " s; upload "
            << field_double(up.line, "seconds") << " s (" << field_double(up.line, "mib_per_s")
            << " MiB/s, peak RSS +" << up_growth << " KiB); download " << field_double(down.line, "seconds")
            << " s (" << field_double(down.line, "mib_per_s") << " MiB/s, peak RSS +" << down_growth
            << " KiB); compare " << cmp_s << " s\n";
}
