// Uses the installed user library and, through its link interface, rsparallel itself.
#include <cstdlib>
#include <iostream>
#include <vector>

#include <rsparallel/rsparallel.hpp>
#include <rsparallel_user/squares.hpp>

int main() {
  std::vector<long long> got = rsparallel_user::squares(10, 2);
  std::vector<long long> want{1, 4, 9, 16, 25, 36, 49, 64, 81, 100};
  if (got != want) {
    std::cerr << "FAILED: rsparallel_user::squares(10, 2)\n";
    return EXIT_FAILURE;
  }
  if (rsparallel_user::built_against() != rsp::version) {
    std::cerr << "FAILED: the user library and this program see different rsparallel versions\n";
    return EXIT_FAILURE;
  }
  auto jobs = rsp::invoke_parallel({1, 2, 3}, [](int i) { return i + 1; }, {.max_running = 2});
  if (rsp::outputs_as<int>(jobs) != std::vector<int>{2, 3, 4}) {
    std::cerr << "FAILED: invoke_parallel through the user library's link interface\n";
    return EXIT_FAILURE;
  }
  std::cout << "installed user library on rsparallel " << rsp::version << ": all checks passed\n";
  return EXIT_SUCCESS;
}
