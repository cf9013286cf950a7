// rsparallel: registered scripts, the scripts a process pool can run. A worker process is the
// same program started again; it finds the script by the name registered here, decodes the
// job's inputs and runs it. The returned object is an ordinary script too, for thread pools.
//
// @code
//   // At namespace scope: registered in the caller and in its worker processes alike.
//   inline const auto word_count = rsp::register_script(
//       "word_count", [](const std::string& line, rsp::JobContext& ctx) {
//         if (line.empty()) ctx.write_warning("empty line");
//         return std::ranges::distance(line | std::views::split(' '));
//       });
//
//   rsp::new_runspace_job(pool, rsp::lines(std::cin), word_count);  // any pool
//
//   // Session hooks a process pool can run in its workers: registered by name too.
//   inline const auto connect = rsp::register_session_hook(
//       "connect", [](rsp::Runspace& rs) { rs.state() = open_connection(); });
//   options.session.open = connect;  // any pool
// @endcode
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "rsparallel/crossing.hpp"
#include "rsparallel/detail/job_work.hpp"
#include "rsparallel/job_context.hpp"
#include "rsparallel/runspace.hpp"

namespace rsp {

namespace detail {

/// What a worker process runs for a job: the script's inputs decoded, then the script over them
/// as a thread pool would run it (detail::run_slice).
class ScriptEntry {
 public:
  virtual ~ScriptEntry() = default;
  /// Decodes `count` inputs from `inputs` (detail::encode_inputs of the script's Input type) and
  /// runs the script over them, writing its results to `context`.
  virtual void run(std::string_view inputs, std::size_t count, JobContext& context) = 0;
};

/// Adds `entry` under `name`; a name already registered throws std::invalid_argument naming it.
void add_script(std::string name, std::unique_ptr<ScriptEntry> entry);

/// The entry registered under `name`; an unknown name throws std::invalid_argument naming it.
/// Entries are never removed, so the reference stays valid.
ScriptEntry& find_script(std::string_view name);

/// As add_script and find_script, for session hooks (a table of their own).
void add_session_hook(std::string name, std::function<void(Runspace&)> hook);
const std::function<void(Runspace&)>& find_session_hook(std::string_view name);

template <class Input, class F>
class TypedScriptEntry final : public ScriptEntry {
 public:
  explicit TypedScriptEntry(F script) : script_(std::move(script)) {}
  void run(std::string_view inputs, std::size_t count, JobContext& context) override {
    std::vector<Input> decoded = decode_inputs<Input>(inputs, count);
    run_slice(script_, std::span<Input>(decoded.data(), decoded.size()), context);
  }

 private:
  F script_;
};

// The first parameter of a non-generic callable: a function, a function pointer, or a class
// with one operator().
template <class Signature>
struct FirstParameter {};
template <class R, class A, class... As>
struct FirstParameter<R(A, As...)> {
  using type = A;
};
template <class R, class A, class... As>
struct FirstParameter<R(A, As...) noexcept> : FirstParameter<R(A, As...)> {};
template <class R, class A, class... As>
struct FirstParameter<R (*)(A, As...)> : FirstParameter<R(A, As...)> {};
template <class R, class A, class... As>
struct FirstParameter<R (*)(A, As...) noexcept> : FirstParameter<R(A, As...)> {};
template <class R, class C, class A, class... As>
struct FirstParameter<R (C::*)(A, As...)> : FirstParameter<R(A, As...)> {};
template <class R, class C, class A, class... As>
struct FirstParameter<R (C::*)(A, As...) const> : FirstParameter<R(A, As...)> {};
template <class R, class C, class A, class... As>
struct FirstParameter<R (C::*)(A, As...) noexcept> : FirstParameter<R(A, As...)> {};
template <class R, class C, class A, class... As>
struct FirstParameter<R (C::*)(A, As...) const noexcept> : FirstParameter<R(A, As...)> {};

template <class F>
concept HasCallOperator = requires {
  &F::operator();
};

template <class F>
auto first_parameter_of() {
  if constexpr (HasCallOperator<F>) {
    return std::type_identity<typename FirstParameter<decltype(&F::operator())>::type>{};
  } else {
    return std::type_identity<typename FirstParameter<F>::type>{};
  }
}

// A span form `(std::span<const T>[, JobContext&])` takes inputs of type T.
template <class P>
struct InputOf {
  using type = P;
};
template <class T, std::size_t Extent>
struct InputOf<std::span<T, Extent>> {
  using type = std::remove_cv_t<T>;
};

template <class F>
using DeducedInput = typename InputOf<
    std::remove_cvref_t<typename decltype(first_parameter_of<std::decay_t<F>>())::type>>::type;

}  // namespace detail

/// A script with a name under which worker processes find it: calls go straight to the callable,
/// so it runs on thread pools unchanged. `Input` is the type of one input as it crosses to a
/// worker.
///
/// Thread Safety: as the callable it holds; name() is safe from any thread.
template <class Input, class F>
class Script {
 public:
  using input_type = Input;

  Script(std::string name, F script) : name_(std::move(name)), script_(std::move(script)) {}

  /// The name it was registered under.
  const std::string& name() const noexcept { return name_; }

  template <class... Args>
  requires std::invocable<F&, Args...>
  decltype(auto) operator()(Args&&... args) {
    return std::invoke(script_, std::forward<Args>(args)...);
  }
  template <class... Args>
  requires std::invocable<const F&, Args...>
  decltype(auto) operator()(Args&&... args) const {
    return std::invoke(script_, std::forward<Args>(args)...);
  }

 private:
  std::string name_;
  F script_;
};

/// True for the objects register_script returns.
template <class T>
inline constexpr bool is_registered_script_v = false;
template <class Input, class F>
inline constexpr bool is_registered_script_v<Script<Input, F>> = true;

namespace detail {
template <class Input, class F>
inline constexpr bool is_remote_script_v<Script<Input, F>> = true;

/// A registered script's inputs cross to a worker process as its Input type.
template <class Input, class F>
struct RemoteScript<Script<Input, F>> {
  template <class Given>
  static bool encode(const Script<Input, F>& script, std::span<const Given> inputs,
                     RemoteWork& out) {
    out.script = script.name();
    out.count = inputs.size();
    if constexpr (std::is_same_v<Given, Input>) {
      out.inputs = encode_inputs<Input>(inputs);
    } else {
      static_assert(std::is_convertible_v<const Given&, Input>,
                    "rsp: the range's inputs must convert to the registered script's Input");
      std::vector<Input> converted(inputs.begin(), inputs.end());
      out.inputs = encode_inputs<Input>(std::span<const Input>(converted));
    }
    return true;
  }
};
}  // namespace detail

/// Registers `script` under `name` for worker processes and returns it as a named script. The
/// script takes one `const Input&` (or `Input&`, or `Input`), or a `std::span<const Input>`,
/// optionally followed by `JobContext&`, as any script does; Input must be default-constructible
/// and serializable (crossing.hpp). A name already registered throws std::invalid_argument.
/// Register at namespace scope, so that worker processes register it too.
///
/// Thread Safety: safe from any thread.
template <class Input, class F>
Script<Input, std::decay_t<F>> register_script(std::string name, F&& script) {
  using Callable = std::decay_t<F>;
  static_assert(
      detail::ScriptKind<Callable, Input>::item || detail::ScriptKind<Callable, Input>::slice,
      "rsp::register_script: the script cannot be called with one Input or a "
      "std::span<const Input>, either with or without a trailing rsp::JobContext&");
  Callable callable(std::forward<F>(script));
  detail::add_script(name, std::make_unique<detail::TypedScriptEntry<Input, Callable>>(callable));
  return Script<Input, Callable>(std::move(name), std::move(callable));
}

/// As above, with Input deduced from the script's first parameter (its decayed type, or T of a
/// `std::span<const T>`). A generic lambda has no first parameter to deduce from: name Input.
template <class F>
auto register_script(std::string name, F&& script) {
  return register_script<detail::DeducedInput<F>>(std::move(name), std::forward<F>(script));
}

/// A SessionState::open or close hook with a name under which worker processes find it: a
/// process pool runs it in each worker (open before the worker's first job, close when the pool
/// lets the worker go); a thread pool calls it as any hook.
///
/// Thread Safety: as the hook it holds; name() is safe from any thread.
class SessionHook {
 public:
  SessionHook(std::string name, std::function<void(Runspace&)> hook)
      : name_(std::move(name)), hook_(std::move(hook)) {}

  /// The name it was registered under.
  const std::string& name() const noexcept { return name_; }
  void operator()(Runspace& runspace) const { hook_(runspace); }

 private:
  std::string name_;
  std::function<void(Runspace&)> hook_;
};

/// Registers `hook` under `name` for worker processes and returns it as a SessionHook, to assign
/// to SessionState::open or close. An empty hook or a name already registered as a session hook
/// throws std::invalid_argument. Register at namespace scope, so that worker processes register
/// it too.
///
/// Thread Safety: safe from any thread.
SessionHook register_session_hook(std::string name, std::function<void(Runspace&)> hook);

}  // namespace rsp
