// llmsvc's additions to node-llama-cpp 3.21.1's addon (see scripts/build-fast-addon.ts).
#pragma once
#include "napi.h"

// Identifies an addon built by llmsvc: { nodeLlamaCpp, llamaCppRelease, additions: string[] }.
Napi::Value llmsvcFastAddonInfo(const Napi::CallbackInfo& info);
