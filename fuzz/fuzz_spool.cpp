// libFuzzer target: any bytes read as a spool journal (src/detail/spool/spool.hpp) must be read
// without a crash, an exception, an out-of-bounds read or an allocation past the caps; and
// adopting the same bytes from a file must keep exactly the intact prefix the in-memory
// reader found; the replay's record payload readers take whatever a record holds. Built with clang
// (-DMLFLOWPP_BUILD_FUZZERS=ON); run by scripts/test.sh.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "detail/delivery/delivery.hpp"
#include "detail/spool/spool.hpp"

namespace {
using namespace mlflowpp::detail;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_spool: invariant broken: %s\n", what);
  std::abort();
}

std::string scratch_dir, scratch_file;

void remove_scratch() {
  std::remove(scratch_file.c_str());
  ::rmdir(scratch_dir.c_str());
}

const std::string& scratch_path() {
  if (scratch_file.empty()) {
    char tmpl[] = "/tmp/mlflowpp-fuzz-spool-XXXXXX";
    if (!::mkdtemp(tmpl)) fail("mkdtemp");
    scratch_dir = tmpl;
    scratch_file = scratch_dir + "/fuzz.mlflowpp-journal";
    std::atexit(remove_scratch);
  }
  return scratch_file;
}

// Rewrites each record's CRC-32C so that mutations reach the checks behind it (frame
// boundaries, content sizes, decompression, ACK values) instead of dying at the checksum.
std::string with_repaired_crcs(std::string_view bytes) {
  std::string s(bytes);
  auto u32 = [&](std::size_t at) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i)
      v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
    return v;
  };
  std::size_t pos = kJournalHeaderSize;
  while (pos + kRecordHeaderSize <= s.size()) {
    const uint32_t csize = u32(pos + 8);
    if (csize > s.size() - pos - kRecordHeaderSize) break;
    const uint32_t crc = crc32c(s.data() + pos + kRecordHeaderSize, csize, crc32c(s.data() + pos, 16));
    for (int i = 0; i < 4; ++i) s[pos + 16 + static_cast<std::size_t>(i)] = static_cast<char>(crc >> (8 * i));
    pos += kRecordHeaderSize + csize;
  }
  return s;
}

void check_journal(std::string_view bytes) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t size = bytes.size();

  // In memory: plain iteration, then a scan, then a replay past the last ACK.
  auto r = JournalReader::from_memory(bytes);
  Record rec;
  uint64_t n = 0, last_end = r.header_ok() ? kJournalHeaderSize : 0;
  while (r.next(rec)) {
    if (rec.offset != last_end || rec.next_offset <= rec.offset) fail("record offsets");
    last_end = rec.next_offset;
    ++n;
    // The payload readers of a replay (src/detail/delivery/delivery.hpp) take any payload.
    (void)parse_log_batch_body(rec.payload);
    (void)parse_log_batch_body(rec.payload, false);
    (void)body_run_id(rec.payload);
    (void)parse_offline_run_payload(rec.payload);
    (void)replace_body_run_id(rec.payload, "offline-0", "0123456789abcdef0123456789abcdef");
  }
  if (r.position() != last_end || r.position() + r.ignored_tail_bytes() != size) fail("tail accounting");
  const JournalInfo info = r.seek_past_last_ack();
  if (info.records != n || info.valid_end != last_end) fail("scan disagrees with iteration");
  if (info.header_ok && (info.ack_offset < kJournalHeaderSize || info.ack_offset > info.valid_end))
    fail("ack offset out of range");
  while (r.next(rec)) {
  }
  if (info.header_ok && r.position() != info.valid_end) fail("replay does not end at valid_end");

  // From a file: adoption keeps the intact prefix (or a fresh header) and appends stay readable.
  const std::string& path = scratch_path();
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    if (size) std::fwrite(data, 1, size, f);
    std::fclose(f);
  } else {
    fail("fopen");
  }
  FsyncPolicy no_sync;
  no_sync.mode = FsyncMode::kNever;
  auto adopted = try_adopt(path, no_sync);
  if (!adopted) fail("adopt");
  const uint64_t expected = info.header_ok ? info.valid_end : kJournalHeaderSize;
  if (adopted->size() != expected) fail("adopted size");
  adopted->append_ack(adopted->size());
  adopted->close();
  auto fr = JournalReader::open(path);
  const JournalInfo after = fr.scan();
  if (!after.header_ok || after.ignored_tail_bytes() != 0 || after.records != (info.header_ok ? n : 0) + 1)
    fail("journal after adoption");
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check_journal(bytes);
  check_journal(with_repaired_crcs(bytes));
  return 0;
}
