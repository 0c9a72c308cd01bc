#include "kafka/protocol/api.h"

#include "kafka/protocol/messages.h"

namespace rill::kafka {

const std::vector<ApiSpec>& ImplementedApis() {
  static const auto* apis = [] {
    auto* out = new std::vector<ApiSpec>;
    for (const ApiSchema& schema : kApiSchemas) {
      out->push_back({static_cast<ApiKey>(schema.key), schema.name, schema.min_version,
                      schema.max_version, schema.first_flexible_version,
                      schema.advertised_min_version});
    }
    return out;
  }();
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

bool ValidClientSoftwareField(std::string_view value) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (value.empty() || !alnum(value.front()) || !alnum(value.back())) return false;
  for (char c : value) {
    if (!alnum(c) && c != '-' && c != '.') return false;
  }
  return true;
}

}  // namespace rill::kafka
