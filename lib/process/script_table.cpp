// The process-wide table of registered scripts, by name.
#include <map>
#include <mutex>
#include <stdexcept>

#include "rsparallel/script.hpp"

namespace rsp::detail {

namespace {

struct ScriptTable {
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<ScriptEntry>, std::less<>> entries;
};

// Function-local: scripts are registered from namespace-scope initializers in any order.
ScriptTable& table() {
  static ScriptTable instance;
  return instance;
}

}  // namespace

void add_script(std::string name, std::unique_ptr<ScriptEntry> entry) {
  ScriptTable& scripts = table();
  std::lock_guard lock(scripts.mutex);
  auto [at, added] = scripts.entries.try_emplace(std::move(name), std::move(entry));
  if (!added) {
    throw std::invalid_argument("rsp::register_script: a script named '" + at->first +
                                "' is already registered");
  }
}

ScriptEntry& find_script(std::string_view name) {
  ScriptTable& scripts = table();
  std::lock_guard lock(scripts.mutex);
  auto found = scripts.entries.find(name);
  if (found == scripts.entries.end()) {
    throw std::invalid_argument("rsp: no script named '" + std::string(name) +
                                "' is registered in this process (rsp::register_script, at "
                                "namespace scope so that worker processes register it too)");
  }
  return *found->second;
}

}  // namespace rsp::detail
