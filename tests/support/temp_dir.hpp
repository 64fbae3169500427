#pragma once
// A scratch folder for a test: created fresh (mkdtemp) under $TMPDIR (or /tmp), removed
// with everything in it when the object goes, read-only subfolders included. Shared by the
// unit and the integration tests; no Catch2 here (a failure to create throws).
#include <stdlib.h>  // mkdtemp

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace support {

class TempDir {
 public:
  /// `$TMPDIR/mlflowpp-<tag>-XXXXXX`.
  explicit TempDir(const std::string& tag = "test") {
    std::error_code ec;
    std::filesystem::path base = std::filesystem::temp_directory_path(ec);
    if (ec) base = "/tmp";
    std::string tmpl = (base / ("mlflowpp-" + tag + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr)
      throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
    path_ = tmpl;
  }
  ~TempDir() {
    make_removable(path_);
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }
  std::string str() const { return path_.string(); }
  /// A path inside the folder (`rel` is UTF-8).
  std::filesystem::path operator/(const std::string& rel) const {
    return path_ / std::filesystem::u8path(rel);
  }

 private:
  /// Gives the owner every right on `dir` and the folders under it (not following
  /// symbolic links), so that a test that made some read-only leaves nothing behind.
  static void make_removable(const std::filesystem::path& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::add, ec);
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code ec2;
      if (fs::is_directory(it->symlink_status(ec2))) make_removable(it->path());
    }
  }

  std::filesystem::path path_;
};

}  // namespace support
