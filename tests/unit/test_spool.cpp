// The spool journal (src/detail/spool/spool.hpp): format round trip, torn tails and bit flips,
// ACKs, flock ownership across fork(), directory helpers. No sockets.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "detail/codec/json.hpp"
#include "detail/delivery/batch.hpp"
#include "detail/spool/spool.hpp"
#include "mlflowpp/entities.hpp"
#include "mlflowpp/error.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace mlflowpp::detail;

namespace {

std::string random_payload(std::size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xFFu);
  return s;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<Record> read_all(JournalReader& r) {
  std::vector<Record> out;
  Record rec;
  while (r.next(rec)) out.push_back(rec);
  return out;
}

struct Written {
  RecordType type;
  std::string payload;
  uint64_t offset;
};

FsyncPolicy no_sync() {
  FsyncPolicy p;
  p.mode = FsyncMode::kNever;
  return p;
}

// A 1000-metric log-batch body as the logger builds it (Batcher + metric_json + chunk_body).
std::string log_batch_body(int64_t first_step, std::mt19937& rng) {
  Batcher b(BatchLimits{}, 32);
  const char* keys[] = {"train/loss", "train/accuracy", "val/loss", "val/accuracy", "lr"};
  std::uniform_real_distribution<double> value(0.0, 1.0);
  for (int i = 0; i < 1000; ++i) {
    mlflowpp::Metric m;
    m.key = keys[i % 5];
    m.value = value(rng);
    m.step = first_step + i / 5;
    m.timestamp = 1764493200000 + first_step * 20 + i * 4;
    Entity e;
    e.kind = EntityKind::kMetric;
    e.key = m.key;
    e.json = metric_json(m);
    b.add(std::move(e));
  }
  auto chunks = b.finish();
  REQUIRE(chunks.size() == 1);
  return chunk_body("0123456789abcdef0123456789abcdef", chunks[0]);
}

}  // namespace

TEST_CASE("spool: crc32c matches the standard check value", "[spool]") {
  CHECK(crc32c("123456789", 9) == 0xE3069283u);
  CHECK(crc32c("", 0) == 0u);
  // Incremental == one shot.
  CHECK(crc32c("56789", 5, crc32c("1234", 4)) == 0xE3069283u);
}

TEST_CASE("spool: round trip of records of every type, empty, binary and 1 MiB payloads", "[spool]") {
  const support::TempDir tmp("unit-spool");
  const std::string dir = tmp.str() + "/a/b/spool";
  std::vector<Written> written;
  std::string path;
  uint64_t total = kJournalHeaderSize;
  {
    auto w = JournalWriter::create(dir, no_sync());
    path = w.path();
    CHECK(w.size() == kJournalHeaderSize);
    std::string all_bytes;
    for (int c = 0; c < 256; ++c) all_bytes.push_back(static_cast<char>(c));
    const std::vector<std::pair<RecordType, std::string>> fixed = {
        {RecordType::kLogBatch, ""},
        {RecordType::kUpdateRun, R"({"run_id":"abc","status":"FINISHED","end_time":1})"},
        {RecordType::kCreateRun, R"({"local_run_id":"local-1","body":{"experiment_id":"0"}})"},
        {RecordType::kLogBatch, all_bytes},
        {RecordType::kLogBatch, random_payload(1 << 20, 7)},  // incompressible 1 MiB
        {RecordType::kLogBatch, std::string(1 << 20, 'x')},   // very compressible 1 MiB
        {RecordType::kUpdateRun, std::string("\0\0\0nul inside", 14)},
    };
    for (const auto& [type, payload] : fixed) {
      written.push_back({type, payload, w.size()});
      const std::size_t n = w.append(type, payload);
      total += n;
      CHECK(w.size() == total);
    }
    for (uint32_t i = 0; i < 500; ++i) {
      const auto type = static_cast<RecordType>(1 + i % 3);
      std::string payload = random_payload(i * 7 % 300, i);
      written.push_back({type, payload, w.size()});
      total += w.append(type, payload);
    }
    written.push_back({RecordType::kAck, std::string(), w.size()});
    total += w.append_ack(written[3].offset);
    CHECK(w.size() == total);
  }
  CHECK(fs::file_size(path) == total);
  CHECK(fs::path(path).filename().string().find(".mlflowpp-journal") != std::string::npos);
  CHECK((fs::status(dir).permissions() & fs::perms::all) == fs::perms::owner_all);
  CHECK((fs::status(path).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write));

  auto check = [&](JournalReader& r) {
    REQUIRE(r.header_ok());
    const auto records = read_all(r);
    REQUIRE(records.size() == written.size());
    for (std::size_t i = 0; i + 1 < written.size(); ++i) {
      INFO("record " << i);
      CHECK(records[i].type == written[i].type);
      CHECK(records[i].offset == written[i].offset);
      CHECK(records[i].payload == written[i].payload);
      CHECK(records[i].next_offset == (i + 1 < written.size() ? written[i + 1].offset : total));
    }
    CHECK(records.back().type == RecordType::kAck);
    CHECK(records.back().payload.size() == 8);
    CHECK(r.ignored_tail_bytes() == 0);
    CHECK(r.position() == total);
  };
  auto from_file = JournalReader::open(path);
  check(from_file);
  const std::string bytes = read_file(path);
  auto from_memory = JournalReader::from_memory(bytes);
  check(from_memory);

  auto again = JournalReader::open(path);
  const JournalInfo info = again.scan();
  CHECK(info.header_ok);
  CHECK(info.records == written.size());
  CHECK(info.valid_end == total);
  CHECK(info.ignored_tail_bytes() == 0);
  CHECK(info.ack_offset == written[3].offset);
}

TEST_CASE("spool: a torn last record at every cut position leaves exactly the intact prefix", "[spool]") {
  const support::TempDir tmp("unit-spool");
  std::string path;
  std::vector<uint64_t> starts;
  {
    auto w = JournalWriter::create(tmp.str(), no_sync());
    path = w.path();
    for (int i = 0; i < 5; ++i) {
      starts.push_back(w.size());
      w.append(RecordType::kLogBatch, "{\"run_id\":\"r\",\"metrics\":[" + std::to_string(i) + "]}");
    }
    starts.push_back(w.size());
    w.append(RecordType::kUpdateRun, random_payload(300, 3));  // the last record
  }
  const std::string bytes = read_file(path);
  const uint64_t last = starts.back();
  for (uint64_t cut = last; cut < bytes.size(); ++cut) {
    INFO("cut at " << cut << " of " << bytes.size());
    const std::string torn = bytes.substr(0, cut);
    auto r = JournalReader::from_memory(torn);
    const auto records = read_all(r);
    REQUIRE(records.size() == 5);
    CHECK(records[4].payload == "{\"run_id\":\"r\",\"metrics\":[4]}");
    CHECK(r.ignored_tail_bytes() == cut - last);
    const JournalInfo info = r.scan();
    CHECK(info.records == 5);
    CHECK(info.valid_end == last);
    CHECK(info.ignored_tail_bytes() == cut - last);
  }
  // Cuts inside the file header: not a journal, nothing read, never a throw.
  for (std::size_t cut = 0; cut < kJournalHeaderSize; ++cut) {
    const std::string torn = bytes.substr(0, cut);
    auto r = JournalReader::from_memory(torn);
    CHECK_FALSE(r.header_ok());
    CHECK(read_all(r).empty());
    CHECK(r.scan().ignored_tail_bytes() == cut);
  }
  // Through a file too, and adoption cuts the torn tail off so that appended ACKs are read.
  const uint64_t cut = last + kRecordHeaderSize + 5;
  write_file(path, bytes.substr(0, cut));
  {
    auto r = JournalReader::open(path);
    CHECK(read_all(r).size() == 5);
    CHECK(r.ignored_tail_bytes() == cut - last);
  }
  auto adopted = try_adopt(path, no_sync());
  REQUIRE(adopted);
  CHECK(adopted->size() == last);
  CHECK(fs::file_size(path) == last);
  adopted->append_ack(starts[2]);
  auto r = JournalReader::open(path);
  const JournalInfo info = r.seek_past_last_ack();
  CHECK(info.ignored_tail_bytes() == 0);
  CHECK(info.ack_offset == starts[2]);
  const auto rest = read_all(r);
  REQUIRE(rest.size() == 4);  // records 2, 3, 4 and the ACK itself
  CHECK(rest[0].offset == starts[2]);
  CHECK(rest[3].type == RecordType::kAck);
}

TEST_CASE("spool: every single bit flip is detected and ends the journal at the intact prefix", "[spool]") {
  const support::TempDir tmp("unit-spool");
  std::string path;
  std::vector<uint64_t> starts;
  {
    auto w = JournalWriter::create(tmp.str(), no_sync());
    path = w.path();
    for (int i = 0; i < 4; ++i) {
      starts.push_back(w.size());
      w.append(i == 3 ? RecordType::kAck : RecordType::kLogBatch,
               i == 3 ? std::string(8, '\0') : "payload number " + std::to_string(i));
    }
    starts.push_back(w.size());
  }
  const std::string bytes = read_file(path);
  // Flips in record k (k = 1..3) leave records 0..k-1; flips in the file header leave nothing.
  for (std::size_t byte = 0; byte < bytes.size(); ++byte) {
    std::size_t k = 0;
    while (k < 4 && starts[k + 1] <= byte) ++k;
    const std::size_t expected = byte < kJournalHeaderSize ? 0 : k;
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = bytes;
      flipped[byte] = static_cast<char>(flipped[byte] ^ (1 << bit));
      auto r = JournalReader::from_memory(flipped);
      const auto records = read_all(r);
      INFO("byte " << byte << " bit " << bit);
      REQUIRE(records.size() == expected);
      for (std::size_t i = 0; i < expected; ++i) CHECK(records[i].offset == starts[i]);
      CHECK(r.ignored_tail_bytes() == bytes.size() - (expected == 0 ? (byte < 8 ? 0 : 8) : starts[expected]));
    }
  }
}

TEST_CASE("spool: garbage after a valid prefix and hostile sizes are refused without allocation", "[spool]") {
  std::string j(kJournalHeader, kJournalHeaderSize);
  // A header claiming 64 MiB compressed and raw sizes in a tiny file.
  std::string h(kRecordHeaderSize, '\0');
  const uint32_t magic = kRecordMagic;
  for (int i = 0; i < 4; ++i) h[i] = static_cast<char>(magic >> (8 * i));
  h[4] = 1;
  for (int i = 0; i < 4; ++i) h[8 + i] = h[12 + i] = static_cast<char>(0xFF);
  const std::string huge = j + h + "xyz";
  auto r = JournalReader::from_memory(huge);
  CHECK(read_all(r).empty());
  CHECK(r.ignored_tail_bytes() == kRecordHeaderSize + 3);
  // Unknown record type, nonzero reserved bytes.
  for (int pos : {4, 5, 6, 7}) {
    std::string bad = h;
    bad[pos] = static_cast<char>(pos == 4 ? 9 : 1);
    const std::string journal = j + bad;
    auto rr = JournalReader::from_memory(journal);
    CHECK(read_all(rr).empty());
  }
  // Not a journal at all.
  const std::string_view not_a_journal = "hello world, this is not a journal";
  auto nj = JournalReader::from_memory(not_a_journal);
  CHECK_FALSE(nj.header_ok());
  CHECK(read_all(nj).empty());
}

TEST_CASE("spool: payloads over the 64 MiB cap are refused by the writer", "[spool]") {
  const support::TempDir tmp("unit-spool");
  auto w = JournalWriter::create(tmp.str(), no_sync());
  const uint64_t before = w.size();
  CHECK_THROWS_AS(w.append(RecordType::kLogBatch, std::string(kMaxRecordRawSize + 1, 'a')), mlflowpp::Error);
  CHECK(w.size() == before);
  CHECK(fs::file_size(w.path()) == before);
}

TEST_CASE("spool: a failed append (file size limit) leaves the journal at its last complete record",
          "[spool]") {
  const support::TempDir tmp("unit-spool");
  auto w = JournalWriter::create(tmp.str(), no_sync());
  w.append(RecordType::kLogBatch, "first");
  const uint64_t before = w.size();
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
  auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of a signal
  rlimit small = saved;
  small.rlim_cur = static_cast<rlim_t>(before + 100);
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  bool threw = false;
  try {
    w.append(RecordType::kLogBatch, random_payload(10000, 9));  // written in part, then EFBIG
  } catch (const mlflowpp::Error&) {
    threw = true;
  }
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old_handler);
  CHECK(threw);
  CHECK(w.size() == before);
  CHECK(fs::file_size(w.path()) == before);
  w.append(RecordType::kLogBatch, "after");
  auto r = JournalReader::open(w.path());
  const auto records = read_all(r);
  REQUIRE(records.size() == 2);
  CHECK(records[1].payload == "after");
  CHECK(r.ignored_tail_bytes() == 0);
}

TEST_CASE("spool: ACK handling, the last valid ACK wins and invalid ones are ignored", "[spool]") {
  const support::TempDir tmp("unit-spool");
  auto w = JournalWriter::create(tmp.str(), no_sync());
  std::vector<uint64_t> starts;
  for (int i = 0; i < 4; ++i) {
    starts.push_back(w.size());
    w.append(RecordType::kLogBatch, "batch " + std::to_string(i));
  }
  auto pending = [&](uint64_t* ack = nullptr) {
    auto r = JournalReader::open(w.path());
    const JournalInfo info = r.seek_past_last_ack();
    if (ack) *ack = info.ack_offset;
    std::vector<std::string> out;
    Record rec;
    while (r.next(rec))
      if (rec.type != RecordType::kAck) out.push_back(rec.payload);
    return out;
  };
  CHECK(pending() == std::vector<std::string>{"batch 0", "batch 1", "batch 2", "batch 3"});
  w.append_ack(starts[2]);
  CHECK(pending() == std::vector<std::string>{"batch 2", "batch 3"});
  w.append_ack(starts[2] + 1);  // not a record start: ignored
  w.append_ack(1u << 30);       // beyond the journal: ignored
  CHECK(pending() == std::vector<std::string>{"batch 2", "batch 3"});
  w.append(RecordType::kLogBatch, "batch 4");
  w.append_ack(starts[3]);
  CHECK(pending() == std::vector<std::string>{"batch 3", "batch 4"});
  uint64_t ack = 0;
  const uint64_t end = w.size();
  w.append_ack(end);  // everything delivered: the ACK points at itself
  CHECK(pending(&ack).empty());
  CHECK(ack == end);
}

TEST_CASE("spool: a live journal cannot be adopted, in this process or another, until its owner is gone",
          "[spool]") {
  const support::TempDir tmp("unit-spool");
  SECTION("same process: a separate open file description conflicts with the writer's lock") {
    std::string path;
    {
      auto w = JournalWriter::create(tmp.str(), no_sync());
      path = w.path();
      w.append(RecordType::kLogBatch, "x");
      CHECK_FALSE(try_adopt(path, no_sync()));
      CHECK_FALSE(try_adopt(path, no_sync()));
    }
    auto adopted = try_adopt(path, no_sync());
    REQUIRE(adopted);
    CHECK_FALSE(try_adopt(path, no_sync()));  // now the adopter owns it
    CHECK(adopted->size() == fs::file_size(path));
    remove_journal(std::move(*adopted));
    CHECK_FALSE(fs::exists(path));
    CHECK_FALSE(try_adopt(path, no_sync()));  // gone
  }
  SECTION("another process holds the lock until it exits") {
    std::string path;
    {
      auto w = JournalWriter::create(tmp.str(), no_sync());
      path = w.path();
      w.append(RecordType::kUpdateRun, "{}");
    }
    int to_child[2], to_parent[2];
    REQUIRE(::pipe(to_child) == 0);
    REQUIRE(::pipe(to_parent) == 0);
    const char* cpath = path.c_str();
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {  // only syscalls in the child
      const int fd = ::open(cpath, O_RDWR);
      const char ok = (fd >= 0 && ::flock(fd, LOCK_EX) == 0) ? 'L' : 'E';
      (void)!::write(to_parent[1], &ok, 1);
      char c;
      (void)!::read(to_child[0], &c, 1);
      ::_exit(0);
    }
    char c = 0;
    REQUIRE(::read(to_parent[0], &c, 1) == 1);
    REQUIRE(c == 'L');
    CHECK_FALSE(try_adopt(path, no_sync()));
    CHECK(list_journals(tmp.str()) == std::vector<std::string>{path});
    REQUIRE(::write(to_child[1], "x", 1) == 1);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    auto adopted = try_adopt(path, no_sync());
    REQUIRE(adopted);
    auto r = JournalReader::open(path);
    const auto records = read_all(r);
    REQUIRE(records.size() == 1);
    CHECK(records[0].payload == "{}");
    for (int fd : {to_child[0], to_child[1], to_parent[0], to_parent[1]}) ::close(fd);
  }
  SECTION("a forked child that abandons its inherited descriptor leaves the lock to the parent") {
    auto w = JournalWriter::create(tmp.str(), no_sync());
    const std::string path = w.path();
    int to_child[2], to_parent[2];
    REQUIRE(::pipe(to_child) == 0);
    REQUIRE(::pipe(to_parent) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      w.abandon_after_fork();  // what the logger's pthread_atfork child handler does
      (void)!::write(to_parent[1], "a", 1);
      char c;
      (void)!::read(to_child[0], &c, 1);
      ::_exit(0);
    }
    char c = 0;
    REQUIRE(::read(to_parent[0], &c, 1) == 1);
    CHECK_FALSE(try_adopt(path, no_sync()));  // the parent still owns it
    w.close();                                // the parent "dies" while the child lives on
    CHECK(try_adopt(path, no_sync()));        // the child did not keep the lock alive
    REQUIRE(::write(to_child[1], "x", 1) == 1);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    for (int fd : {to_child[0], to_child[1], to_parent[0], to_parent[1]}) ::close(fd);
  }
}

TEST_CASE("spool: list_journals, directory_bytes and remove_journal", "[spool]") {
  const support::TempDir tmp("unit-spool");
  CHECK(list_journals(tmp.str() + "/missing").empty());
  CHECK(directory_bytes(tmp.str() + "/missing") == 0);
  std::vector<std::string> paths;
  std::vector<JournalWriter> writers;
  uint64_t bytes = 0;
  for (int i = 0; i < 3; ++i) {
    writers.push_back(JournalWriter::create(tmp.str(), no_sync()));
    writers.back().append(RecordType::kLogBatch, std::string(1000 * (i + 1), 'm'));
    paths.push_back(writers.back().path());
    bytes += writers.back().size();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // distinct start_ms
  }
  write_file(tmp.str() + "/unrelated.txt", "abc");
  write_file(tmp.str() + "/.x.tmp", "abcd");
  CHECK(list_journals(tmp.str()) == paths);  // oldest first, others ignored
  CHECK(directory_bytes(tmp.str()) == bytes + 3 + 4);
  remove_journal(std::move(writers[1]));
  CHECK(list_journals(tmp.str()) == std::vector<std::string>{paths[0], paths[2]});
  CHECK_THROWS_AS(writers[1].append(RecordType::kLogBatch, "x"), mlflowpp::Error);
}

TEST_CASE("spool: fsync policies", "[spool]") {
  const support::TempDir tmp("unit-spool");
  FsyncPolicy p;
  p.every_records = 3;
  p.every = std::chrono::hours(1);
  auto w = JournalWriter::create(tmp.str(), p);
  w.append(RecordType::kLogBatch, "a");
  w.append(RecordType::kAck, std::string(8, '\0'));
  CHECK(w.unsynced_records() == 2);
  w.append(RecordType::kLogBatch, "c");
  CHECK(w.unsynced_records() == 0);  // every 3 records
  w.append(RecordType::kLogBatch, "d");
  CHECK(w.unsynced_records() == 1);
  w.append(RecordType::kUpdateRun, "{}");
  CHECK(w.unsynced_records() == 0);  // run records at once
  w.append(RecordType::kLogBatch, "e");
  w.sync_if_due();
  CHECK(w.unsynced_records() == 1);  // not due for an hour
  w.sync();
  CHECK(w.unsynced_records() == 0);

  FsyncPolicy timed;
  timed.every = std::chrono::milliseconds(0);
  auto t = JournalWriter::create(tmp.str(), timed);
  t.append(RecordType::kLogBatch, "a");
  CHECK(t.unsynced_records() == 0);  // the interval (0) has elapsed

  FsyncPolicy every;
  every.mode = FsyncMode::kEveryRecord;
  auto e = JournalWriter::create(tmp.str(), every);
  e.append(RecordType::kLogBatch, "a");
  CHECK(e.unsynced_records() == 0);

  auto n = JournalWriter::create(tmp.str(), no_sync());
  for (int i = 0; i < 100; ++i) n.append(RecordType::kUpdateRun, "a");
  n.sync_if_due();
  CHECK(n.unsynced_records() == 100);
}

TEST_CASE("spool: default_spool_dir follows the environment", "[spool]") {
  auto saved = [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
  const auto spool = saved("MLFLOWPP_SPOOL_DIR"), xdg = saved("XDG_STATE_HOME"), home = saved("HOME");
  ::setenv("MLFLOWPP_SPOOL_DIR", "/x/spool", 1);
  ::setenv("XDG_STATE_HOME", "/x/state", 1);
  ::setenv("HOME", "/x/home", 1);
  CHECK(default_spool_dir() == "/x/spool");
  ::setenv("MLFLOWPP_SPOOL_DIR", "", 1);  // empty counts as unset
  CHECK(default_spool_dir() == "/x/state/mlflowpp/spool");
  ::setenv("XDG_STATE_HOME", "relative/state", 1);  // relative: ignored (XDG spec)
  CHECK(default_spool_dir() == "/x/home/.local/state/mlflowpp/spool");
  ::unsetenv("XDG_STATE_HOME");
  ::unsetenv("MLFLOWPP_SPOOL_DIR");
  CHECK(default_spool_dir() == "/x/home/.local/state/mlflowpp/spool");
  ::unsetenv("HOME");
  const std::string from_passwd = default_spool_dir();  // the passwd entry's home, if any
  CHECK((from_passwd.empty() || from_passwd.find("/.local/state/mlflowpp/spool") != std::string::npos));
  auto restore = [](const char* name, const std::optional<std::string>& v) {
    if (v)
      ::setenv(name, v->c_str(), 1);
    else
      ::unsetenv(name);
  };
  restore("MLFLOWPP_SPOOL_DIR", spool);
  restore("XDG_STATE_HOME", xdg);
  restore("HOME", home);
}

TEST_CASE("spool: write throughput of 1000-point log-batch bodies (printed, not asserted)", "[spool]") {
  const support::TempDir tmp("unit-spool");
  std::mt19937 rng(42);
  std::vector<std::string> bodies;
  for (int i = 0; i < 16; ++i) bodies.push_back(log_batch_body(i * 200, rng));
  auto measure = [&](FsyncPolicy policy, int records, const char* label) {
    auto w = JournalWriter::create(tmp.str(), policy);
    uint64_t raw = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < records; ++i) {
      const std::string& body = bodies[static_cast<std::size_t>(i) % bodies.size()];
      raw += body.size();
      w.append(RecordType::kLogBatch, body);
    }
    w.sync();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double on_disk = static_cast<double>(w.size() - kJournalHeaderSize);
    std::printf(
        "spool throughput [%s]: %d records of 1000 metrics in %.3f s: %.0f records/s, %.1f MB/s raw JSON, "
        "%.1f MB/s written; %.1f bytes/metric raw, %.2f bytes/metric on disk (ratio %.1fx)\n",
        label, records, s, records / s, static_cast<double>(raw) / s / 1e6, on_disk / s / 1e6,
        static_cast<double>(raw) / records / 1000.0, on_disk / records / 1000.0,
        static_cast<double>(raw) / on_disk);
    remove_journal(std::move(w));
  };
  measure(no_sync(), 400, "fsync never");
  measure(FsyncPolicy{}, 400, "default policy");
  SUCCEED();
}
