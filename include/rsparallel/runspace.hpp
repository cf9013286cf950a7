// rsparallel: a runspace, one worker thread of a pool, and the session state copied into it.
//
// @code
//   rsp::PoolOptions options{.max_runspaces = 4};
//   options.session.variables["greeting"] = std::string("hello");
//   options.session.open = [](rsp::Runspace& rs) { rs.state() = open_connection(); };
//   auto pool = rsp::new_runspace_pool(options);
//   rsp::new_runspace_job(*pool, names, [](const std::string& who, rsp::JobContext& ctx) {
//     return ctx.runspace().variable<std::string>("greeting") + ", " + who;
//   });
// @endcode
#pragma once

#include <any>
#include <cstddef>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

namespace rsp {

class Runspace;

/// What every runspace of a pool starts with (PowerShell's InitialSessionState).
struct SessionState {
  /// Copied into every runspace: each runspace reads and changes its own copy. A value stored as
  /// `const char*` is copied as std::string.
  std::map<std::string, std::any, std::less<>> variables{};
  /// Runs on each runspace's own thread when it opens, before it takes a job.
  std::function<void(Runspace&)> open{};
  /// Runs on that thread when it closes (idle, pool destroyed, or after an abandoned job ends).
  std::function<void(Runspace&)> close{};
};

/// Thrown by Runspace::variable for a name the session state did not define.
class MissingVariable : public std::out_of_range {
 public:
  using std::out_of_range::out_of_range;
};

/// Thrown by Runspace::variable when the variable holds another type.
class VariableTypeError : public std::bad_any_cast {
 public:
  explicit VariableTypeError(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

/// One runspace: its index in the pool, its copy of the session variables and a free slot of
/// state for SessionState::open to fill (a connection per runspace, say).
///
/// Thread Safety: used by the one job running on it at a time, and by the open and close hooks,
/// all on the runspace's own thread. Distinct objects: safe. Shared objects: unsafe.
class Runspace {
 public:
  Runspace(std::size_t index, std::map<std::string, std::any, std::less<>> variables);

  /// 0 .. max_runspaces - 1; a runspace that replaces an abandoned one takes its index.
  std::size_t index() const noexcept { return index_; }

  /// This runspace's copy of a session variable. A missing name throws MissingVariable, a wrong
  /// type VariableTypeError; both name the variable.
  template <class T>
  T& variable(std::string_view name) {
    std::any& value = find_variable(name);
    T* typed = std::any_cast<T>(&value);
    if (typed == nullptr) throw_variable_type_error(name, value, typeid(T));
    return *typed;
  }

  bool has_variable(std::string_view name) const;

  /// Anything the open hook wants to keep for this runspace.
  std::any& state() noexcept { return state_; }

 private:
  std::any& find_variable(std::string_view name);
  [[noreturn]] void throw_variable_type_error(std::string_view name, const std::any& value,
                                              const std::type_info& wanted) const;

  std::size_t index_;
  std::map<std::string, std::any, std::less<>> variables_;
  std::any state_;
};

}  // namespace rsp
