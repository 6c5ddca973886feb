// spk_convert: PyTorch checkpoints (.model/.pt/.pth) <-> safetensors, and listing a checkpoint's contents
// (docs/recipes.md, "spk_convert").
//
//   spk_convert IN OUT [--model_only] [--strip_prefix P] [--add_prefix P]
//   spk_convert --list IN
//
// IN's format is read from its content, OUT's from its extension. A mistake in the call (unknown flag,
// unreadable IN, unknown OUT extension, a prefix that matches nothing) is "spk_convert: error: ..." naming
// the flag or file, exit status 2; a failure while writing exits with status 1.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "apps/recipe/config.h"
#include "apps/recipe/convert.h"
#include "apps/recipe/recipe_parts.h"
#include "engine/io/torch_checkpoint.h"
#include "engine/safetensors.h"

using namespace spk;
using namespace spk::recipe;

namespace {

constexpr const char* kApp = "spk_convert";

int run(int argc, char** argv) {
  CLI::App cli{"Convert a PyTorch checkpoint (.model/.pt/.pth, torch.save) to safetensors or back, or list one.\n"
               "An spk training checkpoint's optimiser state is never exported. Examples:\n"
               "  spk_convert exps/model/last.safetensors model.model                  # voxceleb_trainer (__S__./__L__.)\n"
               "  spk_convert ck.safetensors avg_model.pt --model_only --strip_prefix __S__.   # wespeaker (bare names)\n"
               "  spk_convert ck.safetensors ecapa.model --model_only --strip_prefix __S__. --add_prefix speaker_encoder.\n"
               "  spk_convert baseline_v2_ap.model baseline.safetensors\n"
               "  spk_convert --list baseline_v2_ap.model",
               kApp};
  cli.set_help_flag("-h,--help", "print this help and exit");
  std::string in, out;
  bool list = false;
  ConvertOptions o;
  cli.add_option("IN", in, "input: PyTorch checkpoint or safetensors (by content)")->required();
  cli.add_option("OUT", out, "output: .safetensors, or .model/.pt/.pth for PyTorch (by extension)");
  cli.add_flag("--list", list, "print 'name dtype shape' per tensor, the other values and a count; no OUT");
  cli.add_flag("--model_only", o.model_only, "keep only the model's entries (__S__., or speaker_encoder.)");
  cli.add_option("--strip_prefix", o.strip_prefix, "remove this prefix from the names (e.g. __S__.)");
  cli.add_option("--add_prefix", o.add_prefix, "put this prefix before every name (e.g. speaker_encoder.)");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << cli.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    throw UsageError(e.what());
  }

  if (list) {
    if (!out.empty()) throw UsageError("--list takes only IN, not OUT ('" + out + "')");
    if (o.model_only || !o.strip_prefix.empty() || !o.add_prefix.empty())
      throw UsageError("--list does not take --model_only, --strip_prefix or --add_prefix");
    for (const auto& line : list_lines(read_state_file(in))) std::printf("%s\n", line.c_str());
    return 0;
  }
  if (out.empty()) throw UsageError("OUT: required (or --list IN)");
  if (cli.count("--strip_prefix") && o.strip_prefix.empty()) throw UsageError("--strip_prefix: empty prefix");
  if (cli.count("--add_prefix") && o.add_prefix.empty()) throw UsageError("--add_prefix: empty prefix");
  const OutputFormat format = output_format(out, "OUT");   // before reading a possibly large IN

  const StateFile src = read_state_file(in);
  Converted c = select_tensors(src, o);
  if (format == OutputFormat::torch) {
    if (!src.values.empty())
      c.notes.push_back("left out " + std::to_string(src.values.size()) +
                        " non-tensor values (a state_dict written for torch.load holds tensors only)");
    io::save_torch_checkpoint(out, c.tensors);
  } else {
    // A torch file's non-tensor values (epoch, ...) become metadata; an spk checkpoint's training metadata
    // does not describe the exported weights and stays behind.
    Metadata meta;
    if (src.format != "spk checkpoint") meta = src.values;
    else c.notes.push_back("left out the training metadata (spk.*): the output is weights, not a checkpoint");
    save_safetensors(out, c.tensors, meta);
  }
  for (const auto& n : c.notes) std::fprintf(stderr, "%s: %s\n", kApp, n.c_str());
  std::printf("wrote %s: %zu tensors (%s), from %s (%s)\n", out.c_str(), c.tensors.size(),
              format == OutputFormat::torch ? "PyTorch" : "safetensors", in.c_str(), src.format.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return run_app(kApp, [&] { return run(argc, argv); });
}
