// grader/tar_writer_for_test.h: build hostile .tar.gz files in tests, byte by byte.
//
// `tar` itself refuses to write some of what a hostile archive holds ("../" names, absolute
// paths), so tests build the ustar headers themselves. Used by archive_test.cc and
// stage_test.cc; testonly.
#ifndef IPC_LABS_GRADER_TAR_WRITER_FOR_TEST_H_
#define IPC_LABS_GRADER_TAR_WRITER_FOR_TEST_H_

#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace grader::testing {

// TarWriter
//
// Collects entries in memory; Write() gzips them to a file.
class TarWriter {
 public:
  // TarWriter::Add()
  //
  // Adds one entry: `type` '0' file, '5' folder, '2' symlink (to `link`), '6' FIFO, ...
  // `declared_size` < 0 uses data.size().
  TarWriter& Add(const std::string& name, const std::string& data, char type = '0',
                 const std::string& link = "", long declared_size = -1) {
    char header[512] = {};
    std::snprintf(header, 100, "%s", name.c_str());
    std::snprintf(header + 100, 8, "%07o", 0644);
    std::snprintf(header + 108, 8, "%07o", 0);
    std::snprintf(header + 116, 8, "%07o", 0);
    std::snprintf(header + 124, 12, "%011lo",
                  static_cast<unsigned long>(declared_size >= 0 ? declared_size : data.size()));
    std::snprintf(header + 136, 12, "%011o", 0);
    header[156] = type;
    std::snprintf(header + 157, 100, "%s", link.c_str());
    std::memcpy(header + 257, "ustar", 6);
    std::memcpy(header + 263, "00", 2);
    std::memset(header + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : header) sum += c;
    std::snprintf(header + 148, 8, "%06o", sum);
    bytes_.append(header, 512);
    bytes_ += data;
    bytes_.append((512 - data.size() % 512) % 512, '\0');
    return *this;
  }

  // TarWriter::AddLongName()
  //
  // Adds a GNU 'L' entry that names the next entry `name` (for names over 100 bytes).
  TarWriter& AddLongName(const std::string& name) {
    return Add("././@LongLink", name + std::string(1, '\0'), 'L');
  }

  // TarWriter::Write()
  //
  // Writes the archive (with its two zero blocks), gzip-compressed. False on failure.
  bool Write(const std::string& path) const {
    std::string all = bytes_ + std::string(1024, '\0');
    gzFile gz = gzopen(path.c_str(), "wb");
    if (gz == nullptr) return false;
    bool ok = gzwrite(gz, all.data(), static_cast<unsigned>(all.size())) ==
              static_cast<int>(all.size());
    return gzclose(gz) == Z_OK && ok;
  }

 private:
  std::string bytes_;
};

}  // namespace grader::testing

#endif  // IPC_LABS_GRADER_TAR_WRITER_FOR_TEST_H_
