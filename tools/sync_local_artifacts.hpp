#pragma once
// The artifact half of `mlflowpp-sync --from` (sync_local.cpp): which files of a local run
// the destination lacks (or holds with another size), and their copy through a scratch
// folder. Public API only (mlflowpp/client.hpp).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mlflowpp/client.hpp"

namespace mlflowpp::sync_tool {

struct ArtifactPlan {
  struct Count {
    uint64_t files = 0;
    uint64_t bytes = 0;
  };
  std::vector<FileInfo> files;  ///< to copy: missing on the destination, or of another size
  Count copy;                   ///< the files above
  Count present;                ///< already there with the same size
};

/// Compares the files of local run `src_id` with those of `dst_id` ("" for a run not yet
/// created there: every file is to copy).
ArtifactPlan plan_artifacts(Client& src, const std::string& src_id, Client& dst, const std::string& dst_id);

/// A scratch folder for downloads, removed with its contents at the end.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// Copies files run to run: downloads each from the local store into a scratch folder
/// (created on first use) and uploads it to the same path there.
class ArtifactCopier {
 public:
  void copy(Client& src, const std::string& src_id, Client& dst, const std::string& dst_id,
            const std::vector<FileInfo>& files);

 private:
  std::optional<ScratchDir> scratch_;
};

}  // namespace mlflowpp::sync_tool
