#pragma once
// Numbers and booleans as Python 3's str() writes them: the text a param value gets, so that
// a C++ program and a Python one logging the same value store the same string. Private.

#include <cstdint>
#include <string>

namespace mlflowpp::detail {

/// `True` / `False`.
std::string python_str(bool value);
/// Decimal, with a leading '-' for negatives: `10`, `-9223372036854775808`.
std::string python_str_int(long long value);
std::string python_str_uint(unsigned long long value);
/// Python's repr(float) (= str(float)) of `value`: the shortest digits that read back as the
/// same double (std::to_chars), laid out as Python does — fixed notation when the decimal
/// exponent is in [-4, 16) with `.0` added to integral values (`10.0`, `-0.0`, `0.0001`),
/// scientific otherwise with a signed exponent of at least 2 digits (`1e-05`, `1e+16`,
/// `1.5e+300`); `inf`, `-inf`, `nan` (a NaN's sign is not shown, as in Python).
std::string python_str(double value);
/// The same layout with the float's own shortest digits: 0.1f gives `0.1` (not the double
/// 0.10000000149011612), as str(numpy.float32(0.1)).
std::string python_str(float value);
/// The same layout with the long double's own shortest digits.
std::string python_str(long double value);

}  // namespace mlflowpp::detail
