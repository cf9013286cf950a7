#include "detail/errors.hpp"

#include <cxxabi.h>

#include <boost/thread/exceptions.hpp>

namespace rsp::detail {

ErrorRecord describe_current_exception() {
  ErrorRecord record;
  record.exception = std::current_exception();
  try {
    throw;
  } catch (const std::exception& e) {
    record.message = e.what();
    record.type = type_name(typeid(e));
  } catch (const std::string& text) {
    record.message = text;
    record.type = "std::string";
  } catch (const char* text) {
    record.message = text != nullptr ? text : "";
    record.type = "const char*";
  } catch (const boost::thread_interrupted&) {
    record.message = "interrupted";
    record.type = "boost::thread_interrupted";
  } catch (...) {
    const std::type_info* type = abi::__cxa_current_exception_type();
    record.type = type != nullptr ? type_name(*type) : "unknown";
    record.message = "an exception of type " + record.type;
  }
  return record;
}

}  // namespace rsp::detail
