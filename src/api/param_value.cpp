#include "mlflowpp/param_value.hpp"

#include "detail/core/python_str.hpp"

namespace mlflowpp {

std::string ParamValue::format_signed(long long value) { return detail::python_str_int(value); }
std::string ParamValue::format_unsigned(unsigned long long value) { return detail::python_str_uint(value); }
std::string ParamValue::format_floating(float value) { return detail::python_str(value); }
std::string ParamValue::format_floating(double value) { return detail::python_str(value); }
std::string ParamValue::format_floating(long double value) { return detail::python_str(value); }

}  // namespace mlflowpp
