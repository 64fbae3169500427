// `libtorch_train --self-check`: mlflowpp beside LibTorch, with no C++ ABI or protobuf clash.
//
// What can go wrong when a program links both, and what each check proves:
//
// 1. libstdc++'s dual ABI. std::string (and std::list) have two layouts, chosen per
//    translation unit by _GLIBCXX_USE_CXX11_ABI. LibTorch's CMake package puts
//    -D_GLIBCXX_USE_CXX11_ABI=<its ABI> on the targets that link it (and on nothing else);
//    mlflowpp is compiled with the compiler's default (1 with g++ >= 5 unless a distribution
//    or CMAKE_CXX_FLAGS changes it). Functions whose signature names std::string are
//    mangled differently under the two ABIs (`NSt7__cxx1112basic_string...` vs `Ss`), so a
//    mismatch there is a link error. But a function taking a struct that *contains*
//    strings is not: `mlflowpp::Client::Client(ClientOptions)` mangles the same under both,
//    and with mismatched ABIs would link and then read garbage. Hence:
//    (a) this translation unit's _GLIBCXX_USE_CXX11_ABI equals the ABI LibTorch was built
//        with, read from the symbols libc10 exports (dlsym of c10::Device::Device(const
//        std::string&) under each mangling);
//    (b) when mlflowpp is a shared library, the same test on its exports; when it is linked
//        statically (the default), its std::string-taking calls used here were resolved at
//        link time under this translation unit's mangling, which is itself the proof;
//    (c) a heap-allocated std::string travels through both libraries and back: built here,
//        put into mlflowpp::ClientOptions (a struct of strings, the case (a) and (b) do not
//        cover), normalized by mlflowpp's code (Client drops the trailing '/'), returned by
//        mlflowpp (Client::tracking_uri), stored by LibTorch as a string attribute of a
//        TorchScript module saved to and loaded from a file whose path is a std::string,
//        returned by TorchScript code, and given to mlflowpp again, which must return
//        exactly the original text; a torch error message carrying a std::string path is
//        read back as well.
// 2. Two protobuf runtimes (or two libstdc++) in one process: LibTorch links libprotobuf
//    and registers its descriptors in protobuf's global pool; a second libprotobuf of
//    another version loaded beside it (say, by a library that vendors its own) can abort
//    at start-up or corrupt that pool. mlflowpp itself speaks JSON and links no protobuf.
//    The check reads /proc/self/maps after LibTorch has run (what `ldd` predicts, as
//    actually loaded) and requires at most one file per library family: libprotobuf,
//    libprotobuf-lite, libstdc++.
// 3. Two libcurl builds: LibTorch's Debian dependencies (OpenCV → GDAL, PROJ, NetCDF) load
//    libcurl-gnutls.so.4 beside the libcurl.so.4 (OpenSSL) that mlflowpp links. They have
//    different sonames and versioned symbols (CURL_GNUTLS_3 / CURL_OPENSSL_4), so each
//    caller keeps its own; the check prints which file mlflowpp's curl calls bind to (dladdr
//    of curl_version as this binary references it, the reference mlflowpp's objects make)
//    and every libcurl loaded, for information.
//
// Prints one line per check and exits 0 when all pass, 1 otherwise (a CTest test).

#include "self_check.hpp"

#include <dlfcn.h>
#include <stdlib.h>  // mkdtemp
#include <torch/script.h>
#include <torch/version.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mlflowpp/mlflowpp.hpp>
#include <set>
#include <string>
#include <vector>

extern "C" char* curl_version(void);  // libcurl, as mlflowpp links it

namespace self_check {

namespace {

constexpr int kThisAbi = _GLIBCXX_USE_CXX11_ABI;

/// Which std::string ABI a library was built with, from which of two manglings of one of
/// its functions taking a std::string it exports: 1, 0, or -1 when neither is visible.
int exported_abi(const char* cxx11_symbol, const char* old_symbol) {
  const bool has_new = dlsym(RTLD_DEFAULT, cxx11_symbol) != nullptr;
  const bool has_old = dlsym(RTLD_DEFAULT, old_symbol) != nullptr;
  if (has_new && !has_old) return 1;
  if (has_old && !has_new) return 0;
  return -1;
}

/// The files mapped into this process whose name starts with one of `families`
/// (e.g. "libprotobuf.so"), by family.
std::map<std::string, std::set<std::string>> loaded_libraries(const std::vector<std::string>& families) {
  std::map<std::string, std::set<std::string>> found;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    const std::string name = std::filesystem::path(path).filename().string();
    for (const auto& family : families) {
      if (name.rfind(family, 0) == 0) {
        std::error_code ec;
        const auto canonical = std::filesystem::canonical(path, ec);
        found[family].insert(ec ? path : canonical.string());
      }
    }
  }
  return found;
}

struct Checker {
  std::ostream& out;
  int failures = 0;
  void check(bool ok, const std::string& what) {
    out << (ok ? "ok    " : "FAIL  ") << what << "\n";
    if (!ok) ++failures;
  }
};

}  // namespace

int run(std::ostream& out) {
  Checker c{out};
  out << "self-check: mlflowpp " << mlflowpp::version() << " beside LibTorch " << TORCH_VERSION << "\n";

  // (a) LibTorch's std::string ABI against this translation unit's.
  const c10::Device cpu(std::string("cpu"));  // a libc10 call taking a std::string
  const int torch_abi = exported_abi(
      "_ZN3c106DeviceC1ERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE", "_ZN3c106DeviceC1ERKSs");
  c.check(
      cpu.is_cpu() && torch_abi == kThisAbi,
      "_GLIBCXX_USE_CXX11_ABI: this translation unit " + std::to_string(kThisAbi) + ", libc10 exports " +
          (torch_abi < 0 ? std::string("no recognizable std::string symbol") : std::to_string(torch_abi)));

  // (b) mlflowpp's: exported only when it is a shared library.
  const int mlflowpp_abi = exported_abi(
      "_ZN8mlflowpp6Client9log_paramERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEES8_S8_",
      "_ZN8mlflowpp6Client9log_paramERKSsS2_S2_");
  if (mlflowpp_abi >= 0) {
    c.check(mlflowpp_abi == kThisAbi,
            "mlflowpp (shared library) exports the std::string ABI " + std::to_string(mlflowpp_abi));
  } else {
    c.check(true,
            "mlflowpp is linked statically: its std::string symbols were resolved at link time "
            "with this translation unit's mangling");
  }

  // (c) A heap-allocated string through mlflowpp, LibTorch and back.
  const std::string original = "http://127.0.0.1:9/self-check/a-prefix-long-enough-for-the-heap/" +
                               std::string(40, 'x') + "/\xC3\xA9t\xC3\xA9";  // UTF-8 kept as bytes
  mlflowpp::ClientOptions options;
  options.tracking_uri = original + "/";
  const mlflowpp::Client client(options);  // no network I/O
  const std::string from_mlflowpp = client.tracking_uri();
  c.check(from_mlflowpp == original, "mlflowpp::ClientOptions -> Client::tracking_uri() returns the string");

  char dir_template[] = "/tmp/libtorch_train_self_check.XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (dir == nullptr) {
    c.check(false, "create a temporary directory under /tmp");
    return 1;
  }
  const std::string module_path = std::string(dir) + "/abi_probe.pt";
  std::string from_torch;
  try {
    torch::jit::Module probe("AbiProbe");
    probe.register_attribute("uri", c10::StringType::get(), from_mlflowpp);
    probe.define("def get(self) -> str:\n    return self.uri\n");
    probe.save(module_path);
    torch::jit::Module loaded = torch::jit::load(module_path);
    from_torch = loaded.run_method("get").toStringRef();
  } catch (const std::exception& e) {
    c.check(false, std::string("TorchScript string attribute round trip threw: ") + e.what());
  }
  c.check(from_torch == original, "TorchScript keeps the string through save, torch::jit::load and a method");

  mlflowpp::ClientOptions again;
  again.tracking_uri = from_torch + "/";
  const mlflowpp::Client client2(again);
  c.check(client2.tracking_uri() == original, "the string from LibTorch goes back through mlflowpp intact");

  const std::string missing = std::string(dir) + "/no-such-model-" + std::string(30, 'y') + ".pt";
  std::string torch_error;
  try {
    torch::jit::load(missing);
  } catch (const c10::Error& e) {
    torch_error = e.what();
  }
  c.check(torch_error.find(missing) != std::string::npos,
          "a LibTorch error message carries the std::string path it was given");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);

  // 2. One protobuf runtime and one libstdc++ in the process (as ldd would list them).
  const auto libs = loaded_libraries({"libprotobuf.so", "libprotobuf-lite.so", "libstdc++.so",
                                      "libtorch_cpu.so", "libc10.so", "libmlflowpp.so", "libcurl"});
  for (const std::string family : {"libprotobuf.so", "libprotobuf-lite.so", "libstdc++.so"}) {
    const auto it = libs.find(family);
    std::string list;
    if (it != libs.end())
      for (const auto& p : it->second) list += (list.empty() ? "" : ", ") + p;
    const std::size_t n = it == libs.end() ? 0 : it->second.size();
    c.check(n <= 1, family + " loaded " + std::to_string(n) + " time(s)" + (list.empty() ? "" : ": " + list));
  }
  for (const std::string family : {"libtorch_cpu.so", "libc10.so", "libmlflowpp.so", "libcurl"}) {
    const auto it = libs.find(family);
    if (it != libs.end())
      for (const auto& p : it->second) out << "info  loaded " << p << "\n";
  }

  // 3. Which libcurl mlflowpp's calls go to.
  Dl_info curl_info{};
  if (dladdr(reinterpret_cast<void*>(&curl_version), &curl_info) != 0 && curl_info.dli_fname != nullptr) {
    out << "info  mlflowpp's libcurl calls bind to " << curl_info.dli_fname << " (" << curl_version()
        << ")\n";
  }

  out << (c.failures == 0 ? "self-check: OK" : "self-check: FAILED (" + std::to_string(c.failures) + ")")
      << std::endl;
  return c.failures == 0 ? 0 : 1;
}

}  // namespace self_check
