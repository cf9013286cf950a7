// samples/run/line_range.hpp: the lines of a std::istream as a lazy input range.
//
// A line is read only when the range is advanced to it, so a pool fed from `LineRange(std::cin)`
// reads standard input no faster than it creates jobs. The range is single-pass: call begin()
// once, and do not move the range after that (its iterators point into it).
#pragma once

#include <cstddef>
#include <istream>
#include <iterator>
#include <string>

namespace samples {

class LineRange {
 public:
  explicit LineRange(std::istream& in) : in_(&in) {}

  class iterator {
   public:
    using value_type = std::string;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::input_iterator_tag;

    iterator() = default;
    explicit iterator(LineRange* range) : range_(range) {}

    // A mutable reference, so that a consumer owning the range may move the line out.
    std::string& operator*() const { return range_->line_; }
    iterator& operator++() {
      range_->read_next();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) { return it.at_end(); }

   private:
    bool at_end() const { return range_ == nullptr || range_->done_; }

    LineRange* range_ = nullptr;
  };

  iterator begin() {
    read_next();
    return iterator(this);
  }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  void read_next() {
    if (!std::getline(*in_, line_)) done_ = true;
  }

  std::istream* in_;
  std::string line_;
  bool done_ = false;
};

static_assert(std::input_iterator<LineRange::iterator>);

}  // namespace samples
