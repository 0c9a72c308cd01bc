#include "kafka/protocol/api.h"

namespace rill::kafka {

const std::vector<ApiSpec>& ImplementedApis() {
  static const auto* apis = new std::vector<ApiSpec>{
      {ApiKey::kApiVersions, "ApiVersions", 0, 3, 3},
  };
  return *apis;
}

const ApiSpec* FindApi(int16_t key) {
  for (const ApiSpec& api : ImplementedApis()) {
    if (static_cast<int16_t>(api.key) == key) return &api;
  }
  return nullptr;
}

int RequestHeaderVersion(const ApiSpec& api, int16_t version) {
  return api.Flexible(version) ? 2 : 1;
}

int ResponseHeaderVersion(const ApiSpec& api, int16_t version) {
  if (api.key == ApiKey::kApiVersions) return 0;
  return api.Flexible(version) ? 1 : 0;
}

}  // namespace rill::kafka
