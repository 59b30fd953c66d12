#include "generate_command.h"

#include "ingest/synthetic_source.h"

#include <string>

namespace adclick::app {

using namespace adclick::engine;

int runGenerateCommand(const RunOptions& options, std::FILE* out, std::FILE* err)
{
    if (options.source != SourceKind::Generator) {
        std::fprintf(err, "adclick generate: only the generator can be written out (drop --source)\n");
        return 2;
    }
    if (!options.durationMs) {
        std::fprintf(err, "adclick generate: --duration is required (how much processing time to generate)\n");
        return 2;
    }
    AdDictionary ads;
    UserAgentDictionary userAgents;
    VirtualClock clock(options.generator.startTimeMs);
    SyntheticSource generator(options.generator, clock, ads, userAgents);
    const auto count
        = static_cast<std::uint64_t>(static_cast<double>(*options.durationMs) * options.generator.ratePerSec / 1000.0);
    ClickRecordText text;
    std::string bad;
    std::string line;
    for (std::uint64_t n = 0; n < count; ++n) {
        if (generator.recordText(n, text, bad))
            line = JsonCodec::encode(text);
        else
            line = bad;
        line += '\n';
        if (std::fwrite(line.data(), 1, line.size(), out) != line.size()) {
            std::fprintf(
                err, "adclick generate: write failed after %llu records\n", static_cast<unsigned long long>(n));
            return 1;
        }
    }
    std::fflush(out);
    return 0;
}

} // namespace adclick::app
