#pragma once
/// @file param_value.hpp
/// mlflowpp::ParamValue: the text of a param, made from a string, a bool or a number as
/// Python 3's str() writes the same value, so that a C++ program and a Python one that log
/// the same value store the same string (and re-logging it never conflicts).
///
/// What each C++ argument is stored as (Python's str() of the same value):
/// - `const char*`, `std::string`, `std::string_view`: the characters as given ("mlp");
///   a null `const char*` gives `None`.
/// - `bool`: `True`, `False`.
/// - integers (`int`, `int64_t`, `uint64_t`, `short`, `int8_t` = `signed char`, `uint8_t` =
///   `unsigned char`, ...): decimal, e.g. `10`, `-128`, `18446744073709551615`.
/// - `double`: Python's repr(float), the shortest digits that read back as the same double;
///   fixed notation when the decimal exponent is in [-4, 16), with `.0` for integral values
///   (`0.1`, `10.0`, `-0.0`, `0.0001`, `1000000000000000.0`), else scientific with a signed
///   exponent of at least 2 digits (`1e-05`, `1e+16`, `1.5e+300`, `5e-324`); `inf`, `-inf`,
///   `nan`.
/// - `float`: the same layout with the float's own shortest digits: `0.1f` gives `0.1` (as
///   str(numpy.float32(0.1))), `2.5f` gives `2.5`, `3.4028235e38f` gives `3.4028235e+38`.
/// - `long double`: the same layout with its own shortest digits.
///
/// The same C++ value always gives the same text. Note that, as in Python, `10` and `10.0`
/// are different texts (`10`, `10.0`), and a float and the double it widens to may differ
/// (`0.1f` → `0.1`, `double(0.1f)` → `0.10000000149011612`).
///
/// Character types (`char`, `wchar_t`, `char8_t`, `char16_t`, `char32_t`) do not convert: a
/// `char` is ambiguous (a letter or a small number); pass `std::string(1, c)` or `int(c)`.
/// `signed char` and `unsigned char` (`int8_t`, `uint8_t`) are numbers. Pointers other than `const char*` do
/// not convert either.
///
/// Making one allocates (std::bad_alloc is the only exception it can throw); it is a value,
/// safe to copy and to use from any thread.

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace mlflowpp {

namespace detail {
template <typename T>
inline constexpr bool is_char_type_v = std::is_same_v<T, char> || std::is_same_v<T, wchar_t> ||
                                       std::is_same_v<T, char16_t> || std::is_same_v<T, char32_t>
#if defined(__cpp_char8_t)
                                       || std::is_same_v<T, char8_t>
#endif
    ;
/// An integral type that is neither bool nor a character type (signed / unsigned char are
/// numbers: int8_t, uint8_t).
template <typename T>
inline constexpr bool is_param_integer_v =
    std::is_integral_v<T> && !std::is_same_v<T, bool> && !is_char_type_v<T>;
}  // namespace detail

class ParamValue {
 public:
  /// The characters as given; a null pointer gives `None` (as Python's str(None)).
  ParamValue(const char* text) : text_(text != nullptr ? text : "None") {}
  ParamValue(std::string text) : text_(std::move(text)) {}
  ParamValue(std::string_view text) : text_(text) {}
  /// `True` or `False`. (A template, so that pointers do not convert to bool.)
  template <typename T, std::enable_if_t<std::is_same_v<T, bool>, int> = 0>
  ParamValue(T value) : text_(value ? "True" : "False") {}
  /// Decimal.
  template <typename T, std::enable_if_t<detail::is_param_integer_v<T> && std::is_signed_v<T>, int> = 0>
  ParamValue(T value) : text_(format_signed(static_cast<long long>(value))) {}
  template <typename T, std::enable_if_t<detail::is_param_integer_v<T> && std::is_unsigned_v<T>, int> = 0>
  ParamValue(T value) : text_(format_unsigned(static_cast<unsigned long long>(value))) {}
  /// Python's repr(float) of the value, from its own type's shortest digits.
  template <typename T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
  ParamValue(T value) : text_(format_floating(value)) {}

  /// The stored text.
  const std::string& str() const noexcept { return text_; }
  friend bool operator==(const ParamValue& a, const ParamValue& b) noexcept { return a.text_ == b.text_; }
  friend bool operator!=(const ParamValue& a, const ParamValue& b) noexcept { return a.text_ != b.text_; }

 private:
  static std::string format_signed(long long value);
  static std::string format_unsigned(unsigned long long value);
  static std::string format_floating(float value);
  static std::string format_floating(double value);
  static std::string format_floating(long double value);

  std::string text_;
};

}  // namespace mlflowpp
