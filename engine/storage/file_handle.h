#pragma once

#include <string>
#include <utility>

namespace adclick::engine {

/// Owns a POSIX file descriptor (closed on destruction). Move-only. fdatasync() and pwrite()
/// on one descriptor may run on different threads.
class FileHandle {
public:
    FileHandle() = default;
    explicit FileHandle(int fd, std::string path = {})
        : m_fd(fd)
        , m_path(std::move(path))
    {
    }
    ~FileHandle() { reset(); }
    FileHandle(FileHandle&& o) noexcept
        : m_fd(std::exchange(o.m_fd, -1))
        , m_path(std::move(o.m_path))
    {
    }
    FileHandle& operator=(FileHandle&& o) noexcept
    {
        if (this != &o) {
            reset();
            m_fd = std::exchange(o.m_fd, -1);
            m_path = std::move(o.m_path);
        }
        return *this;
    }
    FileHandle(const FileHandle&) = delete;
    FileHandle& operator=(const FileHandle&) = delete;

    int fd() const { return m_fd; }
    bool isOpen() const { return m_fd >= 0; }
    const std::string& path() const { return m_path; }
    /// Closes the descriptor (if open).
    void reset();
    /// fdatasync; false with error text (file name and strerror) on failure.
    bool sync(std::string& error) const;

private:
    int m_fd = -1;
    std::string m_path;
};

/// Makes a directory entry durable (fsync of the directory after create/rename/unlink).
bool syncDirectory(const std::string& directory, std::string& error);

} // namespace adclick::engine
