/* echo: the TCP echo service: greets, then answers prefix + each line. */
#pragma once

#include "service.h"

extern const struct service echo_service;
