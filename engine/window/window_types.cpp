#include "window/window_types.h"

namespace adclick::engine {

std::string_view latePolicyName(LatePolicy p)
{
    return p == LatePolicy::Update ? "update" : "drop";
}

bool parseLatePolicy(std::string_view text, LatePolicy& out)
{
    if (text == "drop") {
        out = LatePolicy::Drop;
        return true;
    }
    if (text == "update") {
        out = LatePolicy::Update;
        return true;
    }
    return false;
}

} // namespace adclick::engine
