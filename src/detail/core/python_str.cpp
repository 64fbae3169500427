#include "detail/core/python_str.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string_view>
#include <system_error>

namespace mlflowpp::detail {
namespace {

/// Lays out `sci`, std::to_chars' shortest scientific form of a finite value ("-1.2345e-04",
/// "5e-324"), as Python's repr(float).
std::string python_layout(std::string_view sci) {
  std::string out;
  if (!sci.empty() && sci.front() == '-') {
    out.push_back('-');
    sci.remove_prefix(1);
  }
  const std::size_t e_at = sci.find('e');
  const std::string_view mantissa = sci.substr(0, e_at);
  const int exponent = std::atoi(std::string(sci.substr(e_at + 1)).c_str());
  std::string digits;  // the significant digits, without the point
  for (char c : mantissa)
    if (c != '.') digits.push_back(c);
  const int n = static_cast<int>(digits.size());
  if (exponent < -4 || exponent >= 16) {  // 1e-05, 1.5e+300
    out.push_back(digits[0]);
    if (n > 1) {
      out.push_back('.');
      out.append(digits, 1, std::string::npos);
    }
    out.push_back('e');
    out.push_back(exponent < 0 ? '-' : '+');
    const int a = std::abs(exponent);
    if (a < 10) out.push_back('0');
    out += std::to_string(a);
  } else if (exponent >= 0) {  // 10.0, 123.456, 1000000000000000.0
    const int int_digits = exponent + 1;
    if (n <= int_digits) {
      out += digits;
      out.append(static_cast<std::size_t>(int_digits - n), '0');
      out += ".0";
    } else {
      out.append(digits, 0, static_cast<std::size_t>(int_digits));
      out.push_back('.');
      out.append(digits, static_cast<std::size_t>(int_digits), std::string::npos);
    }
  } else {  // 0.0001, 0.00012345
    out += "0.";
    out.append(static_cast<std::size_t>(-exponent - 1), '0');
    out += digits;
  }
  return out;
}

template <typename F>
std::string python_float_str(F value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value < 0 ? "-inf" : "inf";
  char buf[128];
  const auto r = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  if (r.ec != std::errc()) return "nan";  // not reached: 128 bytes hold any shortest form
  return python_layout(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
}

template <typename I>
std::string integer_str(I value) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, r.ptr);
}

}  // namespace

std::string python_str(bool value) { return value ? "True" : "False"; }
std::string python_str_int(long long value) { return integer_str(value); }
std::string python_str_uint(unsigned long long value) { return integer_str(value); }
std::string python_str(double value) { return python_float_str(value); }
std::string python_str(float value) { return python_float_str(value); }
std::string python_str(long double value) { return python_float_str(value); }

}  // namespace mlflowpp::detail
