#include "squares.hpp"

#include <chrono>
#include <ranges>

namespace rsparallel_user {

std::vector<long long> squares(int count, std::size_t runspaces) {
  using namespace std::chrono_literals;
  auto pool = rsp::new_runspace_pool({.min_runspaces = 1, .max_runspaces = runspaces});
  rsp::new_runspace_job(*pool, std::views::iota(1, count + 1),
                        [](int i) { return static_cast<long long>(i) * i; },
                        {.name = "squares", .timeout = 30s});
  auto jobs = rsp::receive_runspace_job(*pool, {.name = "squares", .wait = true});
  return rsp::outputs_as<long long>(jobs);
}

std::string built_against() { return rsp::version; }

}  // namespace rsparallel_user
