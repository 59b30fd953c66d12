#include "storage/file_handle.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace adclick::engine {

void FileHandle::reset()
{
    if (m_fd >= 0)
        ::close(m_fd);
    m_fd = -1;
}

bool FileHandle::sync(std::string& error) const
{
    if (m_fd < 0)
        return true;
    if (::fdatasync(m_fd) != 0) {
        error = "fdatasync " + m_path + ": " + std::strerror(errno);
        return false;
    }
    return true;
}

bool syncDirectory(const std::string& directory, std::string& error)
{
    const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        error = "open " + directory + ": " + std::strerror(errno);
        return false;
    }
    const bool ok = ::fsync(fd) == 0;
    if (!ok)
        error = "fsync " + directory + ": " + std::strerror(errno);
    ::close(fd);
    return ok;
}

} // namespace adclick::engine
