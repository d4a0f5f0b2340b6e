#include "callers_file.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "common/crypto.h"

namespace mm::testing {

std::string WriteCallersFile(const std::string& dir, const std::vector<TestCaller>& callers) {
  nlohmann::json entries = nlohmann::json::array();
  for (const TestCaller& caller : callers) {
    entries.push_back(
        {{"name", caller.name}, {"token_sha256", HexEncode(Sha256(caller.token))}, {"scopes", caller.scopes}});
  }
  std::string path = dir + "/callers.json";
  std::ofstream out(path);
  out << entries.dump();
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
  return path;
}

ScratchDir::ScratchDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
  path_ = tmpl;
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace mm::testing
