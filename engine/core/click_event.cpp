#include "core/click_event.h"

namespace adclick::engine {

std::string_view deviceClassName(DeviceClass d)
{
    switch (d) {
    case DeviceClass::Mobile:
        return "mobile";
    case DeviceClass::Tablet:
        return "tablet";
    case DeviceClass::Desktop:
        return "desktop";
    case DeviceClass::Bot:
        return "bot";
    case DeviceClass::Other:
        return "other";
    }
    return "other";
}

bool parseDeviceClass(std::string_view name, DeviceClass& out)
{
    for (int i = 0; i < kDeviceClassCount; ++i) {
        const auto d = static_cast<DeviceClass>(i);
        const std::string_view n = deviceClassName(d);
        if (n.size() != name.size())
            continue;
        bool same = true;
        for (std::size_t k = 0; k < n.size(); ++k) {
            char c = name[k];
            if (c >= 'A' && c <= 'Z')
                c = static_cast<char>(c - 'A' + 'a');
            if (c != n[k]) {
                same = false;
                break;
            }
        }
        if (same) {
            out = d;
            return true;
        }
    }
    return false;
}

} // namespace adclick::engine
