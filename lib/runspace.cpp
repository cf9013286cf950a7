#include "rsparallel/runspace.hpp"

#include <string>

#include "detail/any_text.hpp"
#include "rsparallel/job.hpp"

namespace rsp {

Runspace::Runspace(std::size_t index, std::map<std::string, std::any, std::less<>> variables)
    : index_(index), variables_(std::move(variables)) {
  for (auto& [name, value] : variables_) detail::own_text(value);
}

bool Runspace::has_variable(std::string_view name) const {
  return variables_.find(name) != variables_.end();
}

std::any& Runspace::find_variable(std::string_view name) {
  auto found = variables_.find(name);
  if (found == variables_.end()) {
    throw MissingVariable("rsp::Runspace::variable: no session variable named '" +
                          std::string(name) + "' in runspace " + std::to_string(index_));
  }
  return found->second;
}

void Runspace::throw_variable_type_error(std::string_view name, const std::any& value,
                                         const std::type_info& wanted) const {
  throw VariableTypeError("rsp::Runspace::variable: session variable '" + std::string(name) +
                          "' holds " + type_name(value.type()) + ", not " + type_name(wanted));
}

}  // namespace rsp
