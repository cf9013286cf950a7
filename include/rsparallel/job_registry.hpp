// rsparallel: the shared record of every job, the C++ form of the module's $global:runspaces.
//
// Pools made without PoolOptions::registry get a registry of their own; pass one registry to
// several pools to receive and clear all their jobs in one place.
//
// @code
//   auto registry = std::make_shared<rsp::JobRegistry>();
//   auto fast = rsp::new_runspace_pool({.max_runspaces = 8, .registry = registry});
//   auto slow = rsp::new_runspace_pool({.max_runspaces = 2, .registry = registry});
//   rsp::new_runspace_job(*fast, small_inputs, quick_work, {.name = "quick"});
//   rsp::new_runspace_job(*slow, big_inputs, heavy_work, {.name = "heavy"});
//   auto all = rsp::receive_runspace_job(*registry, {.wait = true});  // both pools' jobs
// @endcode
#pragma once

#include <cstddef>
#include <memory>
#include <optional>

#include "rsparallel/job.hpp"
#include "rsparallel/options.hpp"

namespace rsp {

namespace detail {
class RegistryCore;
struct Access;
}  // namespace detail

/// Holds every job from creation until it is received or cleared, assigns ids, and drives, on
/// two Boost.Asio executors of its own, what must happen off the callers' threads: feeding inputs
/// to pools as places free, and watching job deadlines.
///
/// Thread Safety: Distinct objects: safe. Shared objects: safe; every member may be called from
/// any thread. Destroying it while pools still use it is safe: they keep its core alive.
class JobRegistry {
 public:
  JobRegistry();
  ~JobRegistry();
  JobRegistry(const JobRegistry&) = delete;
  JobRegistry& operator=(const JobRegistry&) = delete;

  /// Jobs held now, in any state (created and not yet received or cleared).
  std::size_t size() const;

  /// The state of a job still held, or nothing once it was received or cleared.
  std::optional<JobState> state(JobId id) const;

  /// Counts over every batch this registry still tracks; elapsed is since the registry was made.
  Progress progress() const;

  /// The id the next job created will get.
  JobId next_id() const;

 private:
  friend struct detail::Access;  // the library's own components reach core_ through it

  std::shared_ptr<detail::RegistryCore> core_;
};

}  // namespace rsp
