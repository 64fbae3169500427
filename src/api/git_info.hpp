#pragma once
// The git checkout that describes the running program, for the mlflow.source.git.* tags the
// Python client sets (mlflow/tracking/context/git_context.py, mlflow/utils/git_utils.py).
#include <string>
#include <vector>

namespace mlflowpp::detail {

/// What the tags hold; each empty when unknown.
struct GitInfo {
  std::string commit;    ///< mlflow.source.git.commit: HEAD's full hash
  std::string branch;    ///< mlflow.source.git.branch: the checked-out branch (none when detached)
  std::string repo_url;  ///< mlflow.source.git.repoURL: the first remote's URL, credentials stripped
};

/// The checkout containing `dir` (or one of its parents), read with `git` run without a
/// shell, its stdin and stderr on /dev/null (nothing reaches the terminal) and killed after a
/// few seconds. All empty when git is missing, `dir` is not in a checkout, or HEAD has no
/// commit yet (as Python: without a commit there are no git tags at all). The remote URL is
/// the first in the repository's config (`remote.<name>.url`), as GitPython's
/// `repo.remotes[0].url`.
GitInfo read_git_info(const std::string& dir);

/// `url` without the user:password@ of a `scheme://user:password@host/...` URL (Python's
/// `_strip_credentials_from_url`); others (`git@host:org/repo.git`, paths) unchanged.
std::string strip_url_credentials(const std::string& url);

/// The folders whose checkout describes the program, in lookup order:
/// MLFLOWPP_GIT_SOURCE_DIR alone when set (an explicit choice: no fallback, so a folder outside
/// any checkout turns the git tags off); else the executable's folder, then the working
/// folder. Python uses its main script's folder; the executable is a C++ program's nearest
/// equivalent (its code), and the working folder catches binaries built or installed outside
/// the checkout and run from inside it.
std::vector<std::string> git_source_dirs();

/// read_git_info of the first of `dirs` that is in a checkout with a commit; else empty.
GitInfo find_git_info(const std::vector<std::string>& dirs);

/// find_git_info(git_source_dirs()), remembered per list of folders for the process's life
/// (git runs once, not at every run). Thread-safe.
GitInfo source_git_info();

}  // namespace mlflowpp::detail
