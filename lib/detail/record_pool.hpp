// Memory for job records. The feeding runspace makes a record and the receiving thread frees
// it: a hand-over that the general allocator serves slowly, one block at a time under its
// arena lock. Here a freed block goes to the freeing thread's cache, and a full cache hands
// a group of blocks to a shared depot, so blocks cross threads a group at a time.
// Measured (tests/bench/README.md): without it, case 1 takes 5-7 % longer.
#pragma once

#include <cstddef>
#include <memory>
#include <new>

#include "detail/job_record.hpp"

namespace rsp::detail {

/// Every pooled block has this size: a record and a shared_ptr control block's counts, rounded
/// up to a multiple of 64 bytes. Anything larger falls back to operator new.
inline constexpr std::size_t kRecordBlock = (sizeof(JobRecord) + 32 + 63) / 64 * 64;

/// Blocks move between a thread and the shared depot this many at a time; a thread keeps at
/// most two groups.
inline constexpr std::size_t kRecordGroup = 32;
/// The depot keeps at most this many groups; what would go over goes back to operator delete,
/// so a burst of records is not held on to. With every thread's two groups, that bounds what
/// is kept for reuse.
inline constexpr std::size_t kMaxDepotGroups = 64;

/// A block of kRecordBlock bytes, aligned for any object operator new would place there.
void* allocate_record_block();
void free_record_block(void* block) noexcept;

/// For tests: blocks held for reuse by the depot and by the calling thread (0 when pooling is
/// off), and blocks taken from operator new and not yet returned to it (in use or held).
std::size_t pooled_record_blocks() noexcept;
std::size_t live_record_blocks() noexcept;
/// False in builds where blocks go straight to operator new (AddressSanitizer, which must see
/// every free to find a use after it).
bool record_pool_enabled() noexcept;

/// For std::allocate_shared: the record and its control block live in one pooled block.
template <class T>
struct RecordAllocator {
  using value_type = T;

  RecordAllocator() = default;
  template <class U>
  RecordAllocator(const RecordAllocator<U>& /*other*/) noexcept {}

  static constexpr bool kPooled =
      sizeof(T) <= kRecordBlock && alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__;

  T* allocate(std::size_t n) {
    if constexpr (kPooled) {
      if (n == 1) return static_cast<T*>(allocate_record_block());
    }
    return std::allocator<T>().allocate(n);
  }

  void deallocate(T* pointer, std::size_t n) noexcept {
    if constexpr (kPooled) {
      if (n == 1) return free_record_block(pointer);
    }
    std::allocator<T>().deallocate(pointer, n);
  }

  template <class U>
  bool operator==(const RecordAllocator<U>& /*other*/) const noexcept {
    return true;
  }
};

inline JobPtr make_job_record() {
  return std::allocate_shared<JobRecord>(RecordAllocator<JobRecord>());
}

}  // namespace rsp::detail
