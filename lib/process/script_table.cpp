// The process-wide tables of registered scripts and session hooks, by name.
#include <map>
#include <stdexcept>

#include "detail/mutex.hpp"
#include "rsparallel/script.hpp"

namespace rsp::detail {

namespace {

struct ScriptTable {
  Mutex mutex;  // lock order: a leaf
  std::map<std::string, std::unique_ptr<ScriptEntry>, std::less<>> entries RSP_GUARDED_BY(mutex);
};

// Function-local: scripts are registered from namespace-scope initializers in any order.
ScriptTable& table() {
  static ScriptTable instance;
  return instance;
}

struct HookTable {
  Mutex mutex;  // lock order: a leaf
  std::map<std::string, std::function<void(Runspace&)>, std::less<>> hooks RSP_GUARDED_BY(mutex);
};

HookTable& hook_table() {
  static HookTable instance;
  return instance;
}

}  // namespace

void add_session_hook(std::string name, std::function<void(Runspace&)> hook) {
  if (!hook) {
    throw std::invalid_argument("rsp::register_session_hook: the hook named '" + name +
                                "' is empty");
  }
  HookTable& table = hook_table();
  Lock lock(table.mutex);
  auto [at, added] = table.hooks.try_emplace(std::move(name), std::move(hook));
  if (!added) {
    throw std::invalid_argument("rsp::register_session_hook: a session hook named '" + at->first +
                                "' is already registered");
  }
}

const std::function<void(Runspace&)>& find_session_hook(std::string_view name) {
  HookTable& table = hook_table();
  Lock lock(table.mutex);
  auto found = table.hooks.find(name);
  if (found == table.hooks.end()) {
    throw std::invalid_argument("rsp: no session hook named '" + std::string(name) +
                                "' is registered in this process (rsp::register_session_hook, "
                                "at namespace scope so that worker processes register it too)");
  }
  return found->second;
}

void add_script(std::string name, std::unique_ptr<ScriptEntry> entry) {
  ScriptTable& scripts = table();
  Lock lock(scripts.mutex);
  auto [at, added] = scripts.entries.try_emplace(std::move(name), std::move(entry));
  if (!added) {
    throw std::invalid_argument("rsp::register_script: a script named '" + at->first +
                                "' is already registered");
  }
}

ScriptEntry& find_script(std::string_view name) {
  ScriptTable& scripts = table();
  Lock lock(scripts.mutex);
  auto found = scripts.entries.find(name);
  if (found == scripts.entries.end()) {
    throw std::invalid_argument("rsp: no script named '" + std::string(name) +
                                "' is registered in this process (rsp::register_script, at "
                                "namespace scope so that worker processes register it too)");
  }
  return *found->second;
}

}  // namespace rsp::detail

namespace rsp {

SessionHook register_session_hook(std::string name, std::function<void(Runspace&)> hook) {
  detail::add_session_hook(name, hook);
  return SessionHook(std::move(name), std::move(hook));
}

}  // namespace rsp
