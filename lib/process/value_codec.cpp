#include "process/value_codec.hpp"

#include <boost/core/demangle.hpp>
#include <map>
#include <sstream>
#include <stdexcept>
#include <typeindex>

#include "detail/any_text.hpp"
#include "detail/mutex.hpp"
#include "rsparallel/job.hpp"

namespace rsp {

namespace {

template <class... Ts>
struct Types {};
// Every arithmetic type but char8_t (which Boost 1.74 cannot serialize), and std::string.
using Scalars = Types<std::string, bool, char, signed char, unsigned char, wchar_t, char16_t,
                      char32_t, short, unsigned short, int, unsigned, long, unsigned long,
                      long long, unsigned long long, float, double, long double>;

struct Codec {
  detail::SaveValue save;
  detail::LoadValue load;
};

// A type's key is its mangled name: caller and worker are the same executable, so it matches.
class CrossingTable {
 public:
  CrossingTable() {
    detail::Lock lock(mutex_);
    add_builtins();
  }

  void add(const std::type_info& type, Codec codec) {
    detail::Lock lock(mutex_);
    by_key_.try_emplace(type.name(), codec);
  }

  const Codec* find(std::string_view key) const {
    detail::Lock lock(mutex_);
    auto found = by_key_.find(key);
    return found == by_key_.end() ? nullptr : &found->second;
  }

 private:
  template <class T>
  void add_one() RSP_REQUIRES(mutex_) {
    by_key_.try_emplace(typeid(T).name(), Codec{&detail::save_value<T>, &detail::load_value<T>});
  }

  // Scalars (all arithmetic types but char8_t, which Boost 1.74 cannot serialize), vectors of each,
  // and maps keyed by a string or an integer type of the common ones; other maps (and nested
  // containers) cross once registered.
  using MapKeys =
      Types<std::string, int, unsigned, long, unsigned long, long long, unsigned long long>;

  template <class K, class... Vs>
  void add_maps_keyed_by(Types<Vs...>) RSP_REQUIRES(mutex_) {
    (add_one<std::map<K, Vs>>(), ...);
  }
  template <class... Ks>
  void add_maps(Types<Ks...>) RSP_REQUIRES(mutex_) {
    (add_maps_keyed_by<Ks>(Scalars{}), ...);
  }
  template <class... Ts>
  void add_scalars_and_vectors(Types<Ts...>) RSP_REQUIRES(mutex_) {
    (add_one<Ts>(), ...);
    (add_one<std::vector<Ts>>(), ...);
  }

  void add_builtins() RSP_REQUIRES(mutex_) {
    add_scalars_and_vectors(Scalars{});
    add_maps(MapKeys{});
  }

  // Lock order: a leaf. Taken only for archived values: scalars and strings skip the table.
  mutable detail::Mutex mutex_;
  std::map<std::string, Codec, std::less<>> by_key_ RSP_GUARDED_BY(mutex_);
};

// A Scalars value crosses as a tag byte (1 + its type's place in Scalars) and its plain bytes;
// any other value as tag 0 and an archive holding its type's key and the value.
constexpr char kArchived = 0;

template <class... Ts>
bool encode_plain(const std::any& value, std::string& out, Types<Ts...>) {
  char tag = 1;
  auto try_one = [&](auto* type) {
    using T = std::remove_pointer_t<decltype(type)>;
    if (const T* held = std::any_cast<T>(&value)) {
      out.push_back(tag);
      detail::append_plain(out, *held);
      return true;
    }
    ++tag;
    return false;
  };
  return (try_one(static_cast<Ts*>(nullptr)) || ...);
}

template <class... Ts>
std::any decode_plain(char tag, std::string_view bytes, Types<Ts...>) {
  std::any value;
  char next = 1;
  auto try_one = [&](auto* type) {
    using T = std::remove_pointer_t<decltype(type)>;
    if (tag != next++) return false;
    value = detail::take_plain<T>(bytes);
    if (!bytes.empty()) {
      throw std::invalid_argument("rsp: a value from another process has " +
                                  std::to_string(bytes.size()) + " stray bytes");
    }
    return true;
  };
  if (!(try_one(static_cast<Ts*>(nullptr)) || ...)) {
    throw std::invalid_argument("rsp: a value from another process has an unknown tag " +
                                std::to_string(static_cast<unsigned char>(tag)));
  }
  return value;
}

// Function-local: types are registered from namespace-scope initializers in any order.
CrossingTable& table() {
  static CrossingTable instance;
  return instance;
}

}  // namespace

void detail::add_crossing_type(const std::type_info& type, SaveValue save, LoadValue load) {
  table().add(type, Codec{save, load});
}

bool can_cross(const std::type_info& type) {
  return type == typeid(void) || table().find(type.name()) != nullptr;
}

namespace process {

std::string encode_value(const std::any& original) {
  const std::any* value = &original;
  std::any text;
  if (std::any_cast<const char*>(&original) || std::any_cast<char*>(&original)) {
    text = original;
    detail::own_text(text);  // a C string crosses as the std::string it is stored as
    value = &text;
  }
  std::string bytes;
  if (encode_plain(*value, bytes, Scalars{})) return bytes;
  std::string key = value->has_value() ? value->type().name() : "";
  const Codec* codec = nullptr;
  if (value->has_value() && (codec = table().find(key)) == nullptr) {
    std::string name = type_name(value->type());
    throw std::invalid_argument("rsp: a value of type " + name +
                                " cannot cross to or from a worker process; make it serializable "
                                "and call rsp::register_type<" +
                                name + ">()");
  }
  std::ostringstream archive;
  archive.put(kArchived);
  {
    boost::archive::binary_oarchive out(archive, detail::kCrossingArchiveFlags);
    out << key;
    if (codec != nullptr) codec->save(out, *value);
  }
  return std::move(archive).str();
}

std::any decode_value(std::string_view bytes) {
  if (bytes.empty()) throw std::invalid_argument("rsp: a value from another process is empty");
  if (bytes[0] != kArchived) return decode_plain(bytes[0], bytes.substr(1), Scalars{});
  detail::MemoryStream stream(bytes.substr(1));
  std::string key;
  try {
    boost::archive::binary_iarchive in(stream, detail::kCrossingArchiveFlags);
    in >> key;
    if (key.empty()) return {};
    const Codec* codec = table().find(key);
    if (codec == nullptr) {
      throw std::invalid_argument("rsp: a value of type " + boost::core::demangle(key.c_str()) +
                                  " came from another process, but this one has not registered "
                                  "it (rsp::register_type)");
    }
    return codec->load(in);
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {
    throw std::invalid_argument(
        "rsp: a value from another process does not decode" +
        (key.empty() ? std::string() : " as " + boost::core::demangle(key.c_str())) + ": " +
        e.what());
  }
}

}  // namespace process

}  // namespace rsp
