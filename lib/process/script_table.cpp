// The process-wide tables of registered scripts and session hooks, by name.
#include <map>
#include <stdexcept>

#include "detail/mutex.hpp"
#include "rsparallel/script.hpp"

namespace rsp::detail {

namespace {

// Values by name, added once each and never removed, so a reference found stays valid.
template <class Value>
class NamedTable {
 public:
  // `kind` names an entry in errors ("script"); `call` is the registering call.
  NamedTable(const char* kind, const char* call) : kind_(kind), call_(call) {}

  void add(std::string name, Value value) {
    Lock lock(mutex_);
    auto [at, added] = values_.try_emplace(std::move(name), std::move(value));
    if (!added) {
      throw std::invalid_argument(std::string(call_) + ": a " + kind_ + " named '" + at->first +
                                  "' is already registered");
    }
  }

  Value& find(std::string_view name) {
    Lock lock(mutex_);
    auto found = values_.find(name);
    if (found == values_.end()) {
      throw std::invalid_argument("rsp: no " + std::string(kind_) + " named '" + std::string(name) +
                                  "' is registered in this process (" + call_ +
                                  ", at namespace scope so that worker processes register it "
                                  "too)");
    }
    return found->second;
  }

 private:
  const char* const kind_;
  const char* const call_;
  Mutex mutex_;  // lock order: a leaf
  std::map<std::string, Value, std::less<>> values_ RSP_GUARDED_BY(mutex_);
};

// Function-local: entries are registered from namespace-scope initializers in any order.
NamedTable<std::unique_ptr<ScriptEntry>>& scripts() {
  static NamedTable<std::unique_ptr<ScriptEntry>> table("script", "rsp::register_script");
  return table;
}

NamedTable<std::function<void(Runspace&)>>& session_hooks() {
  static NamedTable<std::function<void(Runspace&)>> table("session hook",
                                                          "rsp::register_session_hook");
  return table;
}

}  // namespace

void add_script(std::string name, std::unique_ptr<ScriptEntry> entry) {
  scripts().add(std::move(name), std::move(entry));
}

ScriptEntry& find_script(std::string_view name) { return *scripts().find(name); }

void add_session_hook(std::string name, std::function<void(Runspace&)> hook) {
  if (!hook) {
    throw std::invalid_argument("rsp::register_session_hook: the hook named '" + name +
                                "' is empty");
  }
  session_hooks().add(std::move(name), std::move(hook));
}

const std::function<void(Runspace&)>& find_session_hook(std::string_view name) {
  return session_hooks().find(name);
}

}  // namespace rsp::detail

namespace rsp {

SessionHook register_session_hook(std::string name, std::function<void(Runspace&)> hook) {
  detail::add_session_hook(name, hook);
  return SessionHook(std::move(name), std::move(hook));
}

}  // namespace rsp
