#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace adclick::engine {

/// Appends little-endian fixed-size values and length-prefixed strings to a byte vector
/// (checkpoint state blobs). Not a wire format for other programs: readers are this build's.
class ByteWriter {
public:
    explicit ByteWriter(std::vector<std::uint8_t>& out)
        : m_out(out)
    {
    }
    template <typename T> void put(const T& v)
    {
        static_assert(std::is_trivially_copyable_v<T>);
        // resize + memcpy rather than insert(): GCC 12 warns falsely (-Warray-bounds) on the latter.
        const std::size_t at = m_out.size();
        m_out.resize(at + sizeof(T));
        std::memcpy(m_out.data() + at, &v, sizeof(T));
    }
    void putString(std::string_view s)
    {
        put<std::uint32_t>(static_cast<std::uint32_t>(s.size()));
        const std::size_t at = m_out.size();
        m_out.resize(at + s.size());
        if (!s.empty())
            std::memcpy(m_out.data() + at, s.data(), s.size());
    }

private:
    std::vector<std::uint8_t>& m_out;
};

/// Reads what ByteWriter wrote. Every read is bounds-checked: past the end it returns false
/// and the reader stays failed (ok() == false), so corrupt input cannot read out of bounds.
class ByteReader {
public:
    explicit ByteReader(std::span<const std::uint8_t> in)
        : m_in(in)
    {
    }
    template <typename T> bool get(T& v)
    {
        static_assert(std::is_trivially_copyable_v<T>);
        if (!m_ok || m_in.size() - m_pos < sizeof(T))
            return m_ok = false;
        std::memcpy(&v, m_in.data() + m_pos, sizeof(T));
        m_pos += sizeof(T);
        return true;
    }
    bool getString(std::string& s)
    {
        std::uint32_t n = 0;
        if (!get(n) || m_in.size() - m_pos < n)
            return m_ok = false;
        s.assign(reinterpret_cast<const char*>(m_in.data() + m_pos), n);
        m_pos += n;
        return true;
    }
    bool ok() const { return m_ok; }
    bool atEnd() const { return m_pos == m_in.size(); }

private:
    std::span<const std::uint8_t> m_in;
    std::size_t m_pos = 0;
    bool m_ok = true;
};

} // namespace adclick::engine
