#include "detail/spool/known_servers.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "detail/spool/spool.hpp"  // make_dirs

namespace mlflowpp::detail {

namespace {

constexpr const char* kFileName = "servers-reached";

/// `spool_dir` split at its last '/': {root, folder name}; {"", ""} when it has none.
std::pair<std::string, std::string> split(const std::string& spool_dir) {
  const auto slash = spool_dir.find_last_of('/');
  if (slash == std::string::npos || slash + 1 >= spool_dir.size()) return {};
  return {spool_dir.substr(0, slash == 0 ? 1 : slash), spool_dir.substr(slash + 1)};
}

bool listed(const std::string& root, const std::string& name) {
  std::ifstream in(root + "/" + kFileName);
  std::string line;
  while (std::getline(in, line))
    if (line == name) return true;
  return false;
}

}  // namespace

bool server_known(const std::string& spool_dir) noexcept {
  try {
    const auto [root, name] = split(spool_dir);
    if (name.empty()) return false;
    return listed(root, name);
  } catch (...) {
    return false;
  }
}

void remember_server(const std::string& spool_dir) noexcept {
  try {
    const auto [root, name] = split(spool_dir);
    if (name.empty() || listed(root, name)) return;
    make_dirs(root);
    const std::string path = root + "/" + kFileName;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return;
    const std::string line = name + "\n";
    (void)!::write(fd, line.data(), line.size());  // one write: O_APPEND keeps lines whole
    ::close(fd);
  } catch (...) {
  }
}

void remove_dir_if_empty(const std::string& dir) noexcept {
  if (!dir.empty()) (void)::rmdir(dir.c_str());  // fails (ENOTEMPTY, ENOENT) unless empty
}

}  // namespace mlflowpp::detail
