// The library's one way into the public classes' internals: RunspacePool, JobRegistry and
// JobBatch declare detail::Access a friend and keep their core and the JobBatch constructor
// from a core private, so the public API shows neither.
//
// The members are templates so that this header needs no component header (the check
// headers.internal_includes forbids those here): they are instantiated in lib/*.cpp, where the
// classes are complete.
#pragma once

#include <concepts>
#include <memory>
#include <utility>

namespace rsp {
class JobBatch;
class JobRegistry;
class RunspacePool;
}  // namespace rsp

namespace rsp::detail {

class BatchCore;

struct Access {
  /// The shared core of a pool (PoolCore), a registry (RegistryCore) or a batch (BatchCore).
  template <class Owner>
  requires std::same_as<Owner, RunspacePool> || std::same_as<Owner, JobRegistry> ||
      std::same_as<Owner, JobBatch>
  static const auto& core(const Owner& owner) noexcept { return owner.core_; }

  /// A JobBatch over `core`; `Batch` is always JobBatch, a parameter only so that it is
  /// complete where this is instantiated.
  template <class Batch = JobBatch>
  static Batch make_batch(std::shared_ptr<BatchCore> core) noexcept {
    return Batch(std::move(core));
  }
};

}  // namespace rsp::detail
