// Not for users: how new_runspace_job turns a typed input range and script into type-erased
// work that runspaces run and a feed that the registry's executor pulls lazily.
#pragma once

#include <any>
#include <concepts>
#include <cstddef>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <new>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "rsparallel/job_context.hpp"

namespace rsp::detail {

/// What a worker process needs to run a job: the registered script's name and the job's inputs
/// as they cross (script.hpp encodes them).
struct RemoteWork {
  std::string script;
  std::string inputs;
  std::size_t count = 0;
};

/// How a script's inputs cross to a worker process: only a registered script (rsp::Script,
/// script.hpp, which specializes this) can run there.
template <class Script>
struct RemoteScript {
  template <class Input>
  static bool encode(const Script&, std::span<const Input>, RemoteWork&) {
    return false;
  }
};

/// True for a registered script (rsp::Script, which script.hpp marks).
template <class Script>
inline constexpr bool is_remote_script_v = false;

/// One job's inputs and the script to run over them.
struct JobWork {
  virtual ~JobWork() = default;
  virtual void run(JobContext& context) = 0;
  /// For a process runspace: false when the script is not a registered one.
  virtual bool remote(RemoteWork& out) const = 0;
};

/// One job's work, kept inside the job's record when it is small (one input and the script's
/// address), so creating a job costs no allocation of its own. Neither copied nor moved.
class WorkBox {
 public:
  static constexpr std::size_t kInlineSize = 56;

  WorkBox() = default;
  WorkBox(const WorkBox&) = delete;
  WorkBox& operator=(const WorkBox&) = delete;
  ~WorkBox() { reset(); }

  template <class Work, class... Args>
  void emplace(Args&&... args) {
    reset();
    if constexpr (sizeof(Work) <= kInlineSize && alignof(Work) <= alignof(std::max_align_t)) {
      work_ = ::new (static_cast<void*>(storage_)) Work(std::forward<Args>(args)...);
      inline_ = true;
    } else {
      work_ = new Work(std::forward<Args>(args)...);
      inline_ = false;
    }
  }

  void reset() noexcept {
    if (work_ == nullptr) return;
    if (inline_) {
      work_->~JobWork();
    } else {
      delete work_;
    }
    work_ = nullptr;
  }

  explicit operator bool() const noexcept { return work_ != nullptr; }
  JobWork* operator->() const noexcept { return work_; }

 private:
  alignas(std::max_align_t) unsigned char storage_[kInlineSize];
  JobWork* work_ = nullptr;
  bool inline_ = false;
};

/// A batch's input range, read only by the pool's feeder (one thread at a time).
struct InputFeed {
  virtual ~InputFeed() = default;
  /// Puts the next job's work into `into`; returns how many inputs it holds, 0 once the range
  /// is exhausted (and `into` is then left empty).
  virtual std::size_t pull(std::size_t slice, WorkBox& into) = 0;
  /// Whether a read may wait on the outside world (a stream): jobs already created are then
  /// handed to the runspaces before each read rather than a few at a time.
  virtual bool may_block() const noexcept = 0;
};

// Which call forms a script supports. The span forms are probed only when the one-input forms
// fail, so a generic lambda is never instantiated with a span it cannot take.
template <class Script, class Input,
          bool Item = std::is_invocable_v<Script&, Input&, JobContext&> ||
                      std::is_invocable_v<Script&, Input&>>
struct ScriptKind {
  static constexpr bool item = true;
  static constexpr bool slice = false;
};
template <class Script, class Input>
struct ScriptKind<Script, Input, false> {
  static constexpr bool item = false;
  static constexpr bool slice = std::is_invocable_v<Script&, std::span<const Input>, JobContext&> ||
                                std::is_invocable_v<Script&, std::span<const Input>>;
};

// A `const char*` result would dangle or surprise output_as<std::string>; keep a string.
template <class T>
std::any to_output(T&& value) {
  using V = std::decay_t<T>;
  if constexpr (std::is_same_v<V, const char*> || std::is_same_v<V, char*>) {
    return std::any(std::string(value));
  } else {
    static_assert(std::is_copy_constructible_v<V>,
                  "rsp: a script's return value is stored in std::any and must be copyable");
    return std::any(std::forward<T>(value));
  }
}

template <class F, class... Args>
void call_writing_output(JobContext& context, F& script, Args&&... args) {
  using Result = std::invoke_result_t<F&, Args...>;
  if constexpr (std::is_void_v<Result>) {
    std::invoke(script, std::forward<Args>(args)...);
  } else {
    context.write_output(to_output(std::invoke(script, std::forward<Args>(args)...)));
  }
}

template <class Script, class Input>
void run_item(Script& script, Input& input, JobContext& context) {
  if constexpr (std::is_invocable_v<Script&, Input&, JobContext&>) {
    call_writing_output(context, script, input, context);
  } else {
    call_writing_output(context, script, input);
  }
}

template <class Script, class Input>
void run_slice(Script& script, std::span<Input> inputs, JobContext& context) {
  if constexpr (ScriptKind<Script, Input>::item) {
    // A one-input script over a slice runs once per input, stopping between inputs once stopped.
    for (Input& input : inputs) {
      context.check_stop();
      run_item(script, input, context);
    }
  } else {
    std::span<const Input> view(inputs.data(), inputs.size());
    if constexpr (std::is_invocable_v<Script&, std::span<const Input>, JobContext&>) {
      call_writing_output(context, script, view, context);
    } else {
      call_writing_output(context, script, view);
    }
  }
}

template <class Script, class Input>
class ItemWork final : public JobWork {
 public:
  ItemWork(Script* script, Input input) : script_(script), input_(std::move(input)) {}
  void run(JobContext& context) override {
    if constexpr (ScriptKind<Script, Input>::item) {
      run_item(*script_, input_, context);
    } else {
      run_slice(*script_, std::span<Input>(&input_, 1), context);
    }
  }
  bool remote(RemoteWork& out) const override {
    return RemoteScript<Script>::encode(*script_, std::span<const Input>(&input_, 1), out);
  }

 private:
  Script* script_;  // owned by the batch, which the job's record keeps alive
  Input input_;
};

template <class Script, class Input>
class SliceWork final : public JobWork {
 public:
  SliceWork(Script* script, std::vector<Input> inputs)
      : script_(script), inputs_(std::move(inputs)) {}
  void run(JobContext& context) override {
    run_slice(*script_, std::span<Input>(inputs_.data(), inputs_.size()), context);
  }
  bool remote(RemoteWork& out) const override {
    return RemoteScript<Script>::encode(*script_, std::span<const Input>(inputs_), out);
  }

 private:
  Script* script_;
  std::vector<Input> inputs_;
};

/// Reads a range one input at a time. The iterator is advanced only when the next input is
/// wanted, so a stream-backed range is never read ahead of the jobs it feeds.
template <class Range, class Script, bool Owned>
class RangeFeed final : public InputFeed {
 public:
  using Input = std::ranges::range_value_t<Range>;
  using Storage = std::conditional_t<Owned, Range, Range*>;

  RangeFeed(Storage range, Script* script) : range_(std::move(range)), script_(script) {}

  // A multi-pass range is data in hand; a single-pass one (std::views::istream) may wait.
  bool may_block() const noexcept override { return !std::ranges::forward_range<Range>; }

  std::size_t pull(std::size_t slice, WorkBox& into) override {
    if (pending_error_) {  // the read that failed after the previous slice's last input
      std::rethrow_exception(std::exchange(pending_error_, nullptr));
    }
    if (slice == 1) {
      std::optional<Input> input = next();
      if (!input) return 0;
      into.emplace<ItemWork<Script, Input>>(script_, std::move(*input));
      return 1;
    }
    std::vector<Input> inputs;
    inputs.reserve(std::min<std::size_t>(slice, 4096));
    while (inputs.size() < slice) {
      std::optional<Input> input;
      try {
        input = next();
      } catch (...) {
        if (inputs.empty()) throw;
        // The inputs read so far still make a job; the error comes with the next pull.
        pending_error_ = std::current_exception();
        break;
      }
      if (!input) break;
      inputs.push_back(std::move(*input));
    }
    if (inputs.empty()) return 0;
    std::size_t count = inputs.size();
    into.emplace<SliceWork<Script, Input>>(script_, std::move(inputs));
    return count;
  }

 private:
  auto& range() {
    if constexpr (Owned) {
      return range_;
    } else {
      return *range_;
    }
  }

  std::optional<Input> next() {
    if (!it_) {
      it_.emplace(std::ranges::begin(range()));
    } else if (advance_) {
      ++*it_;
    }
    advance_ = false;
    if (*it_ == std::ranges::end(range())) return std::nullopt;
    advance_ = true;
    // Move only out of a container the batch owns; a view may refer to the caller's elements.
    if constexpr (Owned && !std::ranges::view<Range>) {
      return std::optional<Input>(std::in_place, std::ranges::iter_move(*it_));
    } else {
      return std::optional<Input>(std::in_place, **it_);
    }
  }

  Storage range_;
  Script* script_;
  std::optional<std::ranges::iterator_t<Range>> it_;
  bool advance_ = false;
  std::exception_ptr pending_error_;
};

}  // namespace rsp::detail
