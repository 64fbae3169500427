// The artifact half of `mlflowpp-sync --from` (sync_local_artifacts.hpp).
#include "sync_local_artifacts.hpp"

#include <stdlib.h>  // mkdtemp

#include <cerrno>
#include <cstring>
#include <map>
#include <stdexcept>
#include <system_error>

namespace mlflowpp::sync_tool {

namespace fs = std::filesystem;

ScratchDir::ScratchDir() {
  std::error_code ec;
  fs::path base = fs::temp_directory_path(ec);
  if (ec) base = "/tmp";
  std::string tmpl = (base / "mlflowpp-sync-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    throw std::runtime_error("cannot create a scratch folder " + tmpl + ": " + std::strerror(errno));
  path_ = tmpl;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

ArtifactPlan plan_artifacts(Client& src, const std::string& src_id, Client& dst, const std::string& dst_id) {
  std::map<std::string, int64_t> dst_files;
  if (!dst_id.empty())
    for (const FileInfo& f : dst.list_artifacts_recursive(dst_id))
      if (!f.is_dir) dst_files[f.path] = f.file_size.value_or(-1);
  ArtifactPlan plan;
  for (const FileInfo& f : src.list_artifacts_recursive(src_id)) {
    if (f.is_dir) continue;
    const auto size = static_cast<uint64_t>(f.file_size.value_or(0));
    auto it = dst_files.find(f.path);
    if (it != dst_files.end() && it->second == f.file_size.value_or(-1)) {
      ++plan.present.files;
      plan.present.bytes += size;
    } else {
      plan.files.push_back(f);
      ++plan.copy.files;
      plan.copy.bytes += size;
    }
  }
  return plan;
}

void ArtifactCopier::copy(Client& src, const std::string& src_id, Client& dst, const std::string& dst_id,
                          const std::vector<FileInfo>& files) {
  if (!scratch_) scratch_.emplace();
  for (const FileInfo& f : files) {
    const fs::path dir = scratch_->path() / "run";
    std::error_code ec;
    fs::remove_all(dir, ec);
    const std::string local = src.download_artifacts(src_id, f.path, dir.string());
    const auto slash = f.path.rfind('/');
    dst.log_artifact(dst_id, local, slash == std::string::npos ? std::string() : f.path.substr(0, slash));
  }
  std::error_code ec;
  fs::remove_all(scratch_->path() / "run", ec);
}

}  // namespace mlflowpp::sync_tool
