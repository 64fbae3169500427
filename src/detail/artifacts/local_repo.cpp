// The artifact repository of a local directory (file: roots shared with the server).
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "detail/artifacts/artifacts.hpp"
#include "detail/artifacts/bodies.hpp"
#include "detail/codec/json.hpp"
#include "detail/codec/json_read.hpp"
#include "detail/core/text.hpp"
#include "detail/rest/rest.hpp"
#include "mlflowpp/error.hpp"

namespace mlflowpp::detail {

namespace {

using namespace artifact_io;
namespace fs = std::filesystem;

// ---- a local directory (file: roots shared with the server) -----------------------------

class LocalRepo final : public ArtifactRepo {
 public:
  explicit LocalRepo(std::string root) : root_(std::move(root)) {}

  void upload_file(const std::string& local_file, const std::string& path,
                   const ArtifactOptions& o) override {
    FileSource src(local_file);
    write(src, path, o);
  }
  void upload_bytes(const std::string& data, const std::string& path, const ArtifactOptions& o) override {
    MemorySource src(data);
    write(src, path, o);
  }

  std::vector<FileInfo> list(const std::string& path) override {
    std::vector<FileInfo> out;
    const fs::path dir = resolve(path);
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return out;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      // Uploads in progress (the server's and ours) are not artifacts yet.
      if (starts_with(name, ".artifact.uploading.") || starts_with(name, ".mlflowpp-download-")) continue;
      FileInfo info;
      info.path = join_artifact_path(path, name);
      std::error_code ec2;
      info.is_dir = it->is_directory(ec2);
      if (!info.is_dir) info.file_size = static_cast<int64_t>(it->file_size(ec2));
      out.push_back(std::move(info));
    }
    if (ec) throw Error(fmt::format("cannot list '{}': {}", dir.string(), ec.message()));
    std::sort(out.begin(), out.end(), [](const FileInfo& a, const FileInfo& b) { return a.path < b.path; });
    return out;
  }

  void download_file(const std::string& path, const std::string& local_file,
                     const ArtifactOptions& o) override {
    const fs::path src_path = resolve(path);
    std::error_code ec;
    if (!fs::is_regular_file(src_path, ec))
      throw ServerError(404, "RESOURCE_DOES_NOT_EXIST", fmt::format("No such artifact: '{}'", path),
                        fmt::format("No such artifact: '{}' (local artifact root {})", path, root_));
    FileSource src(src_path.string());
    FileSink sink(fs::path(local_file).parent_path());
    ProgressReporter progress(o, TransferDirection::kDownload, path);
    copy_stream(src, sink, progress);
    sink.commit(local_file);
  }

  void remove(const std::string& path) override {
    std::error_code ec;
    fs::remove_all(resolve(path), ec);
    if (ec) throw Error(fmt::format("cannot delete '{}': {}", resolve(path).string(), ec.message()));
  }

  bool make_dir(const std::string& path) override {
    std::error_code ec;
    fs::create_directories(resolve(path), ec);
    if (ec) throw Error(fmt::format("cannot create '{}': {}", resolve(path).string(), ec.message()));
    return true;
  }

 private:
  /// root/path, refusing a result outside the root (through a symbolic link).
  fs::path resolve(const std::string& path) const {
    const fs::path root(root_);
    const fs::path p = path.empty() ? root : root / fs::path(path);
    std::error_code ec;
    const fs::path canon_root = fs::weakly_canonical(root, ec);
    const fs::path canon = fs::weakly_canonical(p, ec);
    if (!ec) {
      auto r = canon_root.begin();
      auto c = canon.begin();
      for (; r != canon_root.end(); ++r, ++c)
        if (c == canon.end() || *r != *c)
          throw InvalidArgumentError(fmt::format("artifact path '{}' resolves outside the artifact root {}",
                                                 shown_path(path), root_));
    }
    return p;
  }

  void write(BodySource& src, const std::string& path, const ArtifactOptions& o) {
    const fs::path dest = resolve(path);
    std::error_code ec;
    fs::create_directories(dest.parent_path(), ec);
    if (ec)
      throw Error(fmt::format(
          "cannot create '{}': {} (the run's artifact root is a directory on the server's filesystem; "
          "mlflowpp can write there only when it shares that filesystem)",
          dest.parent_path().string(), ec.message()));
    FileSink sink(dest.parent_path());
    ProgressReporter progress(o, TransferDirection::kUpload, path);
    copy_stream(src, sink, progress);
    sink.commit(dest.string());
  }

  std::string root_;
};

}  // namespace

std::unique_ptr<ArtifactRepo> make_local_repo(std::string root) {
  return std::make_unique<LocalRepo>(std::move(root));
}

}  // namespace mlflowpp::detail
