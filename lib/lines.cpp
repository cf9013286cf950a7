#include "rsparallel/lines.hpp"

#include <cerrno>
#include <fstream>
#include <ios>
#include <optional>
#include <system_error>
#include <utility>

namespace rsp {

struct LineRange::State {
  std::optional<std::ifstream> file;  // when the range opened the file itself
  std::istream* in = nullptr;
  std::filesystem::path path;  // for error messages; empty for a stream given by reference
  std::string line;
  bool done = true;

  void read_next() {
    if (in == nullptr || !std::getline(*in, line)) {
      done = true;
      if (in != nullptr && in->bad()) {
        throw std::ios_base::failure(
            "rsp::lines: reading " +
            (path.empty() ? std::string("the stream") : "'" + path.string() + "'") + " failed");
      }
      return;
    }
    // A '\r' at the end is the first half of a CRLF line end (or the end of a CRLF file whose
    // last line has no '\n'): not part of the line.
    if (!line.empty() && line.back() == '\r') line.pop_back();
  }
};

std::string& LineRange::iterator::operator*() const noexcept { return state_->line; }

LineRange::iterator& LineRange::iterator::operator++() {
  state_->read_next();
  return *this;
}

bool LineRange::iterator::at_end() const noexcept { return state_ == nullptr || state_->done; }

LineRange::LineRange() noexcept = default;

LineRange::LineRange(std::istream& in) : state_(std::make_unique<State>()) {
  state_->in = &in;
  state_->done = false;
}

LineRange::LineRange(const std::filesystem::path& path) : state_(std::make_unique<State>()) {
  state_->path = path;
  auto fail = [&](std::error_code code) {
    throw std::filesystem::filesystem_error("rsp::lines: cannot open the file", path, code);
  };
  // std::ifstream opens a directory without complaint and then reads nothing from it.
  std::error_code code;
  if (std::filesystem::is_directory(path, code))
    fail(std::make_error_code(std::errc::is_a_directory));
  errno = 0;
  state_->file.emplace(path, std::ios::in | std::ios::binary);
  if (!state_->file->is_open()) {
    fail(errno != 0 ? std::error_code(errno, std::generic_category())
                    : std::make_error_code(std::errc::io_error));
  }
  state_->in = &*state_->file;
  state_->done = false;
}

LineRange::LineRange(LineRange&&) noexcept = default;
LineRange& LineRange::operator=(LineRange&&) noexcept = default;
LineRange::~LineRange() = default;

LineRange::iterator LineRange::begin() {
  if (!state_) return iterator();
  state_->read_next();
  return iterator(state_.get());
}

LineRange lines(std::istream& in) { return LineRange(in); }

LineRange lines(const std::filesystem::path& path) { return LineRange(path); }

}  // namespace rsp
