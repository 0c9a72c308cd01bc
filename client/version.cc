#include "rill/version.h"

namespace rill {

const char* Version() { return RILL_VERSION_STRING; }

}  // namespace rill
