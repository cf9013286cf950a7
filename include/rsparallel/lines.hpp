// rsparallel: the lines of a stream or a file as a lazy, single-pass input range.
//
// @code
//   // One job per line of standard input, read only as places for jobs free up:
//   rsp::new_runspace_job(*pool, rsp::lines(std::cin), [](const std::string& line) {
//     return line.size();
//   });
//   // One call over the lines of a file (a missing file throws, naming it, at this call):
//   auto jobs = rsp::invoke_parallel(rsp::lines(std::filesystem::path("urls.txt")), fetch,
//                                    {.timeout = std::chrono::seconds(5)});
// @endcode
#pragma once

#include <cstddef>
#include <filesystem>
#include <istream>
#include <iterator>
#include <memory>
#include <ranges>
#include <string>

namespace rsp {

/// The lines of a std::istream, or of a file it opened, read one at a time as it is iterated.
/// Made by rsp::lines(); usable as the inputs of new_runspace_job, invoke_parallel and every call
/// that takes an input range.
///
/// - A line ends at LF. The LF is not part of the line, and neither is one CR right before
///   it (or at the very end of the input), so a file written with CRLF line ends gives the same
///   lines as one written with LF. A CR anywhere else is kept.
/// - Empty lines are kept as empty strings. A last line without LF is a line; a LF at the very
///   end does not start another one, so an empty input has no lines.
/// - It is single-pass (a std::ranges::input_range, not a forward range) and a view: the library
///   treats it as input that may block, hands the jobs it has made to the runspaces before each
///   read, and never reads ahead of the jobs it creates. begin() reads the first line; call it
///   once. Moving the range keeps its iterators valid.
/// - A read that fails (the stream's badbit) throws std::ios_base::failure naming the file (or
///   "the stream"); the library reports that as a Failed job where reading failed.
///
/// Thread Safety: one thread at a time may use a LineRange and its iterators (the library reads
/// an input range on one thread). Distinct objects over distinct streams: safe. While a batch
/// reads the range, nothing else may read the stream, and a stream given by reference must
/// outlive the range (and the batch, when the range is passed as an lvalue or owned by it).
class LineRange {
  struct State;

 public:
  class iterator {
   public:
    using value_type = std::string;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::input_iterator_tag;

    iterator() = default;

    /// The current line. Mutable, so that the one reading the range may move it away.
    std::string& operator*() const noexcept;
    std::string* operator->() const noexcept { return &**this; }
    /// Reads the next line (may block on the stream; may throw, see LineRange).
    iterator& operator++();
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return it.at_end();
    }

   private:
    friend class LineRange;
    explicit iterator(State* state) noexcept : state_(state) {}
    bool at_end() const noexcept;

    State* state_ = nullptr;
  };

  /// An empty range (no lines).
  LineRange() noexcept;
  /// The lines of `in`, which the range refers to and does not own.
  explicit LineRange(std::istream& in);
  /// Opens `path` now, for reading. A file that cannot be opened (missing, a directory, no
  /// permission) throws std::filesystem::filesystem_error (a std::system_error) naming the path,
  /// with the reason as its code. Opening a FIFO waits here for a writer.
  explicit LineRange(const std::filesystem::path& path);
  LineRange(LineRange&&) noexcept;
  LineRange& operator=(LineRange&&) noexcept;
  ~LineRange();

  /// Reads the first line.
  iterator begin();
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  std::unique_ptr<State> state_;
};

/// The lines of `in`, read lazily; `in` must outlive the range (see LineRange).
LineRange lines(std::istream& in);
/// The lines of the file at `path`, opened at this call (a failure throws
/// std::filesystem::filesystem_error naming the path) and read lazily.
LineRange lines(const std::filesystem::path& path);

}  // namespace rsp

// A view by opting in rather than by deriving from std::ranges::view_interface: with Clang 14 and
// libstdc++ 12, view_interface's const members reject a range whose begin() is not const.
/// @cond
template <>
inline constexpr bool std::ranges::enable_view<rsp::LineRange> = true;
/// @endcond

static_assert(std::ranges::input_range<rsp::LineRange>);
static_assert(!std::ranges::forward_range<rsp::LineRange>);
static_assert(std::ranges::view<rsp::LineRange>);
