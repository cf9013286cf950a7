// samples/run/command.hpp: the command line of one job, and what the job hands back per command.
#pragma once

#include <algorithm>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace samples {

/// What one command of a job wrote; a job writes one of these to its Output per command.
struct CommandOutput {
  std::string out;
  std::string err;
};

/// The template's arguments with every "{}" replaced by `input`; when no argument holds "{}",
/// the input is appended as the last argument (as xargs and GNU parallel do).
inline std::vector<std::string> make_command(std::span<const std::string> templ,
                                             std::string_view input) {
  constexpr std::string_view kPlaceholder = "{}";
  bool has_placeholder = std::ranges::any_of(
      templ, [&](const std::string& arg) { return arg.find(kPlaceholder) != std::string::npos; });
  std::vector<std::string> argv;
  argv.reserve(templ.size() + 1);
  for (const std::string& arg : templ) {
    std::string expanded;
    std::size_t from = 0;
    for (std::size_t at; (at = arg.find(kPlaceholder, from)) != std::string::npos;
         from = at + kPlaceholder.size()) {
      expanded.append(arg, from, at - from).append(input);
    }
    expanded.append(arg, from);
    argv.push_back(std::move(expanded));
  }
  if (!has_placeholder) argv.emplace_back(input);
  return argv;
}

}  // namespace samples
