#pragma once
/// @file mlflowpp.hpp
/// Umbrella header: everything public in mlflowpp.
#include "mlflowpp/active_run.hpp"
#include "mlflowpp/artifacts.hpp"
#include "mlflowpp/async_logger.hpp"
#include "mlflowpp/client.hpp"
#include "mlflowpp/entities.hpp"
#include "mlflowpp/error.hpp"
#include "mlflowpp/options.hpp"
#include "mlflowpp/registry.hpp"
#include "mlflowpp/signals.hpp"
#include "mlflowpp/version.hpp"
