#include "rsparallel/runspace_pool.hpp"

#include "rsparallel/script.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "detail/access.hpp"
#include "detail/pool_core.hpp"
#include "detail/registry_core.hpp"
#include "detail/validate.hpp"

namespace rsp {

namespace {
constexpr std::size_t kMaxRunspaces = 65535;
// A streaming receiver's backlog. The receiver is woken once per group of finished jobs (up to
// 128, or half this backlog); a backlog of only 64 left the feed paused for it every other
// wake-up on 2 cores (measured in tests/bench).
constexpr std::size_t kMinUnreceived = 256;
// How long a pool's destructor waits for transient holders of its core; a pool destroyed by one
// of its own jobs (which holds the core up its stack) waits this long, then goes on as before.
constexpr std::chrono::milliseconds kLetGoWait{100};
}  // namespace

void validate(const PoolOptions& options) {
  if (options.min_runspaces < 1 || options.min_runspaces > kMaxRunspaces) {
    detail::reject("PoolOptions::min_runspaces", "1..65535", std::to_string(options.min_runspaces));
  }
  if (options.max_runspaces < 1 || options.max_runspaces > kMaxRunspaces) {
    detail::reject("PoolOptions::max_runspaces", "1..65535", std::to_string(options.max_runspaces));
  }
  if (options.max_runspaces < options.min_runspaces) {
    detail::reject("PoolOptions::max_runspaces",
                   "at least min_runspaces (" + std::to_string(options.min_runspaces) + ")",
                   std::to_string(options.max_runspaces));
  }
  detail::require_not_negative("PoolOptions::idle_timeout", options.idle_timeout);
  detail::require_not_negative("PoolOptions::stop_grace", options.stop_grace);
  if (options.isolation != Isolation::Thread && options.isolation != Isolation::Process) {
    detail::reject("PoolOptions::isolation", "Isolation::Thread or Isolation::Process",
                   std::to_string(static_cast<int>(options.isolation)));
  }
  if (options.isolation == Isolation::Process) {
    // A worker process cannot run a std::function of the caller: only hooks it finds by name.
    auto require_registered = [](const std::function<void(Runspace&)>& hook, const char* field) {
      if (hook && hook.target<SessionHook>() == nullptr) {
        throw std::invalid_argument(
            std::string("PoolOptions::session.") + field +
            ": with Isolation::Process each runspace is a worker process, which runs only hooks "
            "registered by name: rsp::register_session_hook(name, hook), at namespace scope");
      }
    };
    require_registered(options.session.open, "open");
    require_registered(options.session.close, "close");
  }
}

RunspacePool::RunspacePool(PoolOptions options) {
  validate(options);
  if (options.max_queue == 0) options.max_queue = 3 * options.max_runspaces;
  if (options.max_unreceived == 0) {
    options.max_unreceived = std::max(options.max_queue, kMinUnreceived);
  }
  if (!options.registry) options.registry = std::make_shared<JobRegistry>();
  registry_ = options.registry;
  core_ = std::make_shared<detail::PoolCore>(std::move(options), detail::Access::core(*registry_));
  core_->start();
}

RunspacePool::~RunspacePool() {
  core_->shutdown();
  // What else holds the core holds it for a moment (a deadline timer's handler, a feed round).
  // Let go of it here, on the caller's thread: its executor threads are then joined and their
  // descriptors closed before this returns, not on one of those threads a moment later.
  auto until = std::chrono::steady_clock::now() + kLetGoWait;
  while (core_.use_count() > 1 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

const PoolOptions& RunspacePool::options() const noexcept { return core_->options(); }
JobRegistry& RunspacePool::registry() const noexcept { return *registry_; }
const std::shared_ptr<JobRegistry>& RunspacePool::shared_registry() const noexcept {
  return registry_;
}
std::size_t RunspacePool::open_runspaces() const { return core_->open_runspaces(); }
std::size_t RunspacePool::busy_runspaces() const { return core_->busy_runspaces(); }
std::size_t RunspacePool::unfinished_jobs() const { return core_->unfinished_jobs(); }
std::size_t RunspacePool::abandoned_runspaces() const { return core_->abandoned_runspaces(); }
std::vector<std::string> RunspacePool::open_errors() const { return core_->open_errors(); }
void RunspacePool::close() { core_->shutdown(); }

std::shared_ptr<RunspacePool> new_runspace_pool(PoolOptions options) {
  return std::make_shared<RunspacePool>(std::move(options));
}

}  // namespace rsp
