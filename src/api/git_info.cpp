#include "api/git_info.hpp"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

namespace mlflowpp::detail {

namespace {

constexpr std::chrono::milliseconds kGitTimeout{5000};

/// Runs `argv` (found on PATH, no shell) with stdin and stderr on /dev/null and returns its
/// standard output; nullopt when it cannot start, exits non-zero or outlives `timeout`
/// (then it is killed).
std::optional<std::string> run_quiet(const std::vector<std::string>& argv,
                                     std::chrono::milliseconds timeout) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return std::nullopt;
  }
  std::string out;
  bool timed_out = false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      timed_out = n == 0;
      break;
    }
    char buf[4096];
    const ssize_t got = ::read(fds[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // EOF
    out.append(buf, static_cast<std::size_t>(got));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  pid_t w;
  do {
    w = ::waitpid(pid, &status, 0);
  } while (w < 0 && errno == EINTR);
  if (timed_out) return std::nullopt;
  // ECHILD: the program ignores SIGCHLD, so children are reaped unseen; the caller checks
  // the output's shape instead.
  if (w < 0) return errno == ECHILD ? std::optional<std::string>(out) : std::nullopt;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return out;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    std::size_t end = s.find('\n', start);
    if (end == std::string::npos) end = s.size();
    std::string line = s.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(std::move(line));
    start = end + 1;
  }
  return out;
}

bool is_full_hash(const std::string& s) {
  if (s.size() != 40 && s.size() != 64) return false;  // SHA-1 or SHA-256 repositories
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

std::string executable_dir() {
  char exe[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) return {};
  std::string dir(exe, static_cast<std::size_t>(n));
  const auto slash = dir.rfind('/');
  if (slash == std::string::npos) return {};
  dir.resize(slash == 0 ? 1 : slash);
  return dir;
}

std::string working_dir() {
  std::string buf(PATH_MAX, '\0');
  if (::getcwd(buf.data(), buf.size()) == nullptr) return {};
  buf.resize(std::char_traits<char>::length(buf.c_str()));
  return buf;
}

}  // namespace

std::string strip_url_credentials(const std::string& url) {
  // urllib.parse.urlsplit: a scheme is a letter then letters, digits, '+', '-', '.'; the
  // authority follows "//" and ends at the first '/', '?' or '#'.
  const auto colon = url.find(':');
  if (colon == std::string::npos || colon == 0 || !std::isalpha(static_cast<unsigned char>(url[0])))
    return url;
  for (std::size_t i = 0; i < colon; ++i) {
    const char c = url[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return url;
  }
  if (url.compare(colon + 1, 2, "//") != 0) return url;
  const std::size_t host_start = colon + 3;
  std::size_t host_end = url.find_first_of("/?#", host_start);
  if (host_end == std::string::npos) host_end = url.size();
  const auto at = url.rfind('@', host_end == 0 ? 0 : host_end - 1);
  if (at == std::string::npos || at < host_start) return url;
  std::string scheme = url.substr(0, colon);
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return scheme + "://" + url.substr(at + 1);
}

GitInfo read_git_info(const std::string& dir) {
  GitInfo info;
  if (dir.empty()) return info;
  // One call for both: the hash, then the branch ("HEAD" when detached).
  const auto head = run_quiet({"git", "-C", dir, "rev-parse", "HEAD", "--abbrev-ref", "HEAD"}, kGitTimeout);
  if (!head) return info;
  const auto hl = lines(*head);
  if (hl.empty() || !is_full_hash(hl[0])) return info;
  info.commit = hl[0];
  if (hl.size() > 1 && hl[1] != "HEAD") info.branch = hl[1];
  // The remotes' URLs in the order of the repository's config; the first one's.
  const auto remotes =
      run_quiet({"git", "-C", dir, "config", "--local", "--get-regexp", "^remote\\..*\\.url$"}, kGitTimeout);
  if (remotes) {
    for (const auto& line : lines(*remotes)) {
      const auto space = line.find(' ');
      if (space == std::string::npos) continue;
      info.repo_url = strip_url_credentials(line.substr(space + 1));
      break;
    }
  }
  return info;
}

std::vector<std::string> git_source_dirs() {
  if (const char* d = std::getenv("MLFLOWPP_GIT_SOURCE_DIR"); d != nullptr && *d != '\0') return {d};
  std::vector<std::string> dirs;
  if (auto exe = executable_dir(); !exe.empty()) dirs.push_back(std::move(exe));
  if (auto cwd = working_dir(); !cwd.empty() && (dirs.empty() || dirs[0] != cwd))
    dirs.push_back(std::move(cwd));
  return dirs;
}

GitInfo find_git_info(const std::vector<std::string>& dirs) {
  for (const auto& d : dirs) {
    GitInfo info = read_git_info(d);
    if (!info.commit.empty()) return info;
  }
  return {};
}

GitInfo source_git_info() {
  static std::mutex mu;
  static std::map<std::vector<std::string>, GitInfo> cache;
  const auto dirs = git_source_dirs();
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(dirs);
  if (it == cache.end()) it = cache.emplace(dirs, find_git_info(dirs)).first;
  return it->second;
}

}  // namespace mlflowpp::detail
