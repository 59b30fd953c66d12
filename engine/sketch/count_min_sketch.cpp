#include "sketch/count_min_sketch.h"

#include "core/hash.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace adclick::engine {

namespace {
constexpr char kMagic[4] = { 'C', 'M', 'S', 'K' };
constexpr std::size_t kHeaderBytes = 4 + 1 + 4 + 4 + 8 + 8;
constexpr std::uint32_t kMaxWidth = 1u << 26;

template <typename T> void put(std::vector<std::uint8_t>& out, T v)
{
    for (std::size_t i = 0; i < sizeof(T); ++i)
        out.push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(v) >> (8 * i)));
}
template <typename T> T get(const std::uint8_t* p)
{
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
        v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
    return static_cast<T>(v);
}
std::uint32_t roundUpPow2(std::uint64_t n)
{
    std::uint64_t w = 8;
    while (w < n && w < kMaxWidth)
        w <<= 1;
    return static_cast<std::uint32_t>(w);
}
bool fail(std::string* error, const char* why)
{
    if (error)
        *error = why;
    return false;
}
} // namespace

CountMinSketch::CountMinSketch(std::uint32_t width, std::uint32_t depth, std::uint64_t seed)
    : m_width(roundUpPow2(width))
    , m_mask(m_width - 1)
    , m_depth(std::clamp<std::uint32_t>(depth, 1, kMaxDepth))
    , m_seed(seed)
    , m_seedMix(mix64(seed + 0x9E3779B97F4A7C15ULL))
    , m_counters(static_cast<std::size_t>(m_width) * m_depth, 0)
{
}

std::uint32_t CountMinSketch::suggestWidth(double epsilon)
{
    if (!(epsilon > 0))
        return kMaxWidth;
    return roundUpPow2(static_cast<std::uint64_t>(std::ceil(std::exp(1.0) / epsilon)));
}

std::uint32_t CountMinSketch::suggestDepth(double delta)
{
    if (!(delta > 0) || delta >= 1)
        return 1;
    return std::clamp<std::uint32_t>(static_cast<std::uint32_t>(std::ceil(std::log(1.0 / delta))), 1, kMaxDepth);
}

CountMinSketch CountMinSketch::forError(double epsilon, double delta, std::uint64_t seed)
{
    return { suggestWidth(epsilon), suggestDepth(delta), seed };
}

std::uint64_t CountMinSketch::estimate(std::uint64_t key) const
{
    const Hashes h = hashes(key);
    std::uint32_t est = UINT32_MAX;
    const std::uint32_t* row = m_counters.data();
    for (std::uint32_t i = 0; i < m_depth; ++i, row += m_width)
        est = std::min(est, row[(h.h1 + i * h.h2) & m_mask]);
    // All counters saturated: the true count may exceed 2^32 − 1, but never N.
    return est == UINT32_MAX ? std::max<std::uint64_t>(est, m_total) : est;
}

double CountMinSketch::epsilon() const
{
    return std::exp(1.0) / static_cast<double>(m_width);
}

double CountMinSketch::delta() const
{
    return std::exp(-static_cast<double>(m_depth));
}

std::uint64_t CountMinSketch::errorBound() const
{
    return static_cast<std::uint64_t>(std::ceil(epsilon() * static_cast<double>(m_total)));
}

bool CountMinSketch::merge(const CountMinSketch& other)
{
    if (other.m_width != m_width || other.m_depth != m_depth || other.m_seed != m_seed)
        return false;
    for (std::size_t i = 0; i < m_counters.size(); ++i) {
        const std::uint32_t a = m_counters[i];
        const std::uint32_t s = a + other.m_counters[i];
        m_counters[i] = s < a ? UINT32_MAX : s;
    }
    m_total += other.m_total;
    return true;
}

void CountMinSketch::clear()
{
    std::fill(m_counters.begin(), m_counters.end(), 0u);
    m_total = 0;
}

std::vector<std::uint8_t> CountMinSketch::serialize() const
{
    std::vector<std::uint8_t> out;
    out.reserve(kHeaderBytes + m_counters.size() * 4);
    for (char m : kMagic)
        out.push_back(static_cast<std::uint8_t>(m));
    out.push_back(kSerialVersion);
    put(out, m_width);
    put(out, m_depth);
    put(out, m_seed);
    put(out, m_total);
    for (std::uint32_t c : m_counters)
        put(out, c);
    return out;
}

std::optional<CountMinSketch> CountMinSketch::deserialize(std::span<const std::uint8_t> bytes, std::string* error)
{
    if (bytes.size() < kHeaderBytes)
        return fail(error, "truncated header"), std::nullopt;
    const std::uint8_t* p = bytes.data();
    if (std::memcmp(p, kMagic, 4) != 0)
        return fail(error, "not a Count-Min Sketch (bad magic)"), std::nullopt;
    if (p[4] != kSerialVersion)
        return fail(error, "unsupported version"), std::nullopt;
    const auto width = get<std::uint32_t>(p + 5);
    const auto depth = get<std::uint32_t>(p + 9);
    const auto seed = get<std::uint64_t>(p + 13);
    const auto total = get<std::uint64_t>(p + 21);
    if (width < 8 || width > kMaxWidth || (width & (width - 1)) != 0)
        return fail(error, "width is not a power of two in range"), std::nullopt;
    if (depth == 0 || depth > kMaxDepth)
        return fail(error, "depth out of range"), std::nullopt;
    const std::size_t cells = static_cast<std::size_t>(width) * depth;
    if (bytes.size() != kHeaderBytes + cells * 4)
        return fail(error, bytes.size() < kHeaderBytes + cells * 4 ? "truncated counters" : "trailing bytes"),
               std::nullopt;
    CountMinSketch s(width, depth, seed);
    s.m_total = total;
    const std::uint8_t* c = p + kHeaderBytes;
    for (std::size_t i = 0; i < cells; ++i)
        s.m_counters[i] = get<std::uint32_t>(c + 4 * i);
    // Every row sums to the total unless a counter saturated; then it sums to less.
    for (std::uint32_t r = 0; r < depth; ++r) {
        std::uint64_t sum = 0;
        bool saturated = false;
        for (std::uint32_t i = 0; i < width; ++i) {
            const std::uint32_t v = s.m_counters[static_cast<std::size_t>(r) * width + i];
            sum += v;
            saturated |= v == UINT32_MAX;
        }
        if (saturated ? sum > total : sum != total)
            return fail(error, "counters do not add up to the total"), std::nullopt;
    }
    return s;
}

} // namespace adclick::engine
