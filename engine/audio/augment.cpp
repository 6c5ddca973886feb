// MUSAN additive noise and RIR reverberation, as voxceleb_trainer's AugmentWAV; semantics in augment.h.
#include "engine/audio/augment.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/audio/audio_file.h"
#include "engine/audio/crop.h"
#include "engine/audio/lists.h"
#include "engine/check.h"

namespace spk::audio {
namespace fs = std::filesystem;
namespace {

bool is_audio_file(const fs::path& p) {
  std::string ext = p.extension().string();
  for (auto& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".wav" || ext == ".flac" || ext == ".ogg";
}

int category_index(const std::string& name) {
  if (name == "music") return int(AugType::music);
  if (name == "speech") return int(AugType::speech);
  if (name == "noise") return int(AugType::noise);
  return -1;
}

// Every audio file below dir, with its path relative to dir.
std::vector<std::pair<fs::path, fs::path>> scan_audio(const fs::path& dir) {
  std::vector<std::pair<fs::path, fs::path>> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec), end;
  SPK_CHECK(!ec, "augment: cannot scan '", dir.string(), "': ", ec.message());
  for (; it != end; it.increment(ec)) {
    SPK_CHECK(!ec, "augment: error scanning '", dir.string(), "': ", ec.message());
    if (it->is_regular_file() && is_audio_file(it->path())) out.emplace_back(it->path(), it->path().lexically_relative(dir));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Lines of a list file as whitespace-split fields, with the line number for messages.
std::vector<std::pair<int64_t, std::vector<std::string>>> read_fields(const std::string& path) {
  std::ifstream in(path);
  SPK_CHECK(bool(in), "augment: cannot open list '", path, "'");
  std::vector<std::pair<int64_t, std::vector<std::string>>> out;
  std::string line;
  for (int64_t no = 1; read_list_line(in, line, path, no); ++no) {
    std::istringstream ss(line);
    std::vector<std::string> f;
    for (std::string w; ss >> w;) f.push_back(w);
    if (!f.empty()) out.emplace_back(no, std::move(f));
  }
  return out;
}

std::string resolve(const fs::path& list, const std::string& p) {
  fs::path q(p);
  return (q.is_absolute() ? q : list.parent_path() / q).lexically_normal().string();
}

}  // namespace

const char* aug_type_name(AugType t) {
  switch (t) {
    case AugType::none: return "none";
    case AugType::reverb: return "reverb";
    case AugType::music: return "music";
    case AugType::speech: return "speech";
    case AugType::noise: return "noise";
  }
  return "?";
}

double power_db(const float* x, int64_t n) {
  // Eight interleaved partial sums in a fixed order: deterministic, and not one long dependency chain.
  double part[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) part[j] += double(x[i + j]) * double(x[i + j]);
  for (; i < n; ++i) part[0] += double(x[i]) * double(x[i]);
  const double s = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
  return 10.0 * std::log10(s / double(std::max<int64_t>(n, 1)) + 1e-4);
}

void mix_noises(float* x, int64_t n, const std::vector<std::vector<float>>& noises, const std::vector<double>& snr_db) {
  SPK_CHECK(noises.size() == snr_db.size(), "mix_noises: ", noises.size(), " noises but ", snr_db.size(), " SNRs");
  const double clean_db = power_db(x, n);
  std::vector<double> gain;
  std::vector<const float*> src;
  for (size_t k = 0; k < noises.size(); ++k) {
    SPK_CHECK(int64_t(noises[k].size()) == n, "mix_noises: noise ", k, " has ", noises[k].size(), " samples, crop has ", n);
    const double noise_db = power_db(noises[k].data(), n);
    gain.push_back(std::sqrt(std::pow(10.0, (clean_db - noise_db - snr_db[k]) / 10.0)));
    src.push_back(noises[k].data());
  }
  // As numpy: the scaled noises are summed in double (in file order), then added to the crop.
  thread_local std::vector<double> acc;
  acc.assign(size_t(n), 0.0);
  double* a = acc.data();
  for (size_t k = 0; k < src.size(); ++k) {
    const float* nk = src[k];
    const double g = gain[k];
    for (int64_t i = 0; i < n; ++i) a[i] += g * double(nk[i]);
  }
  for (int64_t i = 0; i < n; ++i) x[i] = float(double(x[i]) + a[i]);
}

void reverberate(float* x, int64_t n, const float* h, int64_t h_len) {
  SPK_CHECK(h_len >= 1, "reverberate: empty RIR");
  double e = 0;
  for (int64_t i = 0; i < h_len; ++i) e += double(h[i]) * double(h[i]);
  SPK_CHECK(e > 0, "reverberate: RIR is all zeros");
  const float scale = float(1.0 / std::sqrt(e));
  std::vector<float> hn(h, h + h_len);
  for (auto& v : hn) v *= scale;
  std::vector<float> y(static_cast<size_t>(n));
  fft_convolve_head(x, n, hn.data(), h_len, y.data());
  std::copy(y.begin(), y.end(), x);
}

namespace {

// MUSAN files by category (indexed by AugType), from a directory or a list file (augment.h).
std::array<std::vector<std::string>, 5> scan_musan(const std::string& musan) {
  std::array<std::vector<std::string>, 5> files;
  if (fs::is_directory(musan)) {
    for (const auto& [full, rel] : scan_audio(musan)) {
      const int c = rel.begin() == rel.end() ? -1 : category_index(rel.begin()->string());
      if (c >= 0) files[size_t(c)].push_back(full.string());
    }
  } else {
    SPK_CHECK(fs::is_regular_file(musan), "augment: --musan_path '", musan, "' is neither a directory nor a list file");
    for (const auto& [no, f] : read_fields(musan)) {
      int c = -1;
      std::string path;
      if (f.size() == 2) {
        c = category_index(f[0]);
        path = f[1];
        SPK_CHECK(c >= 0, musan, ":", no, ": category must be noise, speech or music, got '", f[0], "'");
      } else {
        SPK_CHECK(f.size() == 1, musan, ":", no, ": expected `category path` or `path`, got ", f.size(), " columns");
        path = f[0];
        for (const auto& part : fs::path(path))
          if (category_index(part.string()) >= 0) c = category_index(part.string());
        SPK_CHECK(c >= 0, musan, ":", no, ": no noise/speech/music folder in '", path, "'; write `category path`");
      }
      files[size_t(c)].push_back(resolve(musan, path));
    }
  }
  for (auto& v : files) std::sort(v.begin(), v.end());
  return files;
}

}  // namespace

std::vector<std::string> musan_files(const std::string& musan, AugType category) {
  return scan_musan(musan)[size_t(category)];
}

std::vector<std::string> audio_files(const std::string& dir_or_list, const std::string& flag) {
  std::vector<std::string> out;
  if (fs::is_directory(dir_or_list)) {
    for (const auto& [full, rel] : scan_audio(dir_or_list)) out.push_back(full.string());
  } else {
    SPK_CHECK(fs::is_regular_file(dir_or_list), "augment: ", flag, " '", dir_or_list,
              "' is neither a directory nor a list file");
    for (const auto& [no, f] : read_fields(dir_or_list)) {
      SPK_CHECK(f.size() == 1, dir_or_list, ":", no, ": expected one path per line, got ", f.size(), " columns");
      out.push_back(resolve(dir_or_list, f[0]));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Augmenter::Augmenter(const std::string& musan, const std::string& rir, int sample_rate) : sample_rate_(sample_rate) {
  SPK_CHECK(!musan.empty() && !rir.empty(), "augment: needs both --musan_path and --rir_path (got '", musan, "', '", rir, "')");
  files_ = scan_musan(musan);
  files_[size_t(AugType::reverb)] = audio_files(rir, "--rir_path");
  const auto& F = files_;
  SPK_CHECK(!F[2].empty() && !F[3].empty() && !F[4].empty() && !F[1].empty(), "augment: MUSAN '", musan,
            "' / RIR '", rir, "' give music: ", F[2].size(), ", speech: ", F[3].size(), ", noise: ", F[4].size(),
            ", RIR: ", F[1].size(), " files; every category needs at least one");
}

Augmenter::Augmenter(std::vector<std::string> music, std::vector<std::string> speech, std::vector<std::string> noise,
                     std::vector<std::string> rirs, int sample_rate)
    : sample_rate_(sample_rate) {
  files_[size_t(AugType::music)] = std::move(music);
  files_[size_t(AugType::speech)] = std::move(speech);
  files_[size_t(AugType::noise)] = std::move(noise);
  files_[size_t(AugType::reverb)] = std::move(rirs);
}

const std::vector<std::string>& Augmenter::files(AugType t) const { return files_[size_t(t)]; }

AugmentRecord Augmenter::augment(float* x, int64_t n, Rng& rng) const {
  return apply(AugType(rng.randint(0, 5)), x, n, rng);
}

AugmentRecord Augmenter::apply(AugType type, float* x, int64_t n, Rng& rng) const {
  AugmentRecord rec;
  rec.type = type;
  if (type == AugType::none) return rec;
  const auto& pool = files_[size_t(type)];
  SPK_CHECK(!pool.empty(), "augment: no ", aug_type_name(type), " files to draw from");
  if (type == AugType::reverb) {
    const std::string& f = pool[size_t(rng.randint(0, int64_t(pool.size())))];
    const std::vector<float> h = read_audio(f, sample_rate_);
    try {
      reverberate(x, n, h.data(), int64_t(h.size()));
    } catch (const Error& e) {
      SPK_FAIL("augment: RIR file '", f, "': ", e.what());
    }
    rec.files.push_back(f);
    return rec;
  }
  const NoiseCategory spec = type == AugType::music ? kMusicSpec : type == AugType::speech ? kSpeechSpec : kNoiseSpec;
  const int64_t k = std::min<int64_t>(rng.randint(spec.count_lo, spec.count_hi + 1), int64_t(pool.size()));
  // k distinct files (random.sample); k <= 7, so redrawing duplicates is cheap.
  std::vector<int64_t> pick;
  while (int64_t(pick.size()) < k) {
    const int64_t j = rng.randint(0, int64_t(pool.size()));
    if (std::find(pick.begin(), pick.end(), j) == pick.end()) pick.push_back(j);
  }
  std::vector<std::vector<float>> noises;
  for (int64_t j : pick) {
    noises.emplace_back(size_t(n));
    random_crop_from_file(pool[size_t(j)], n, sample_rate_, rng, noises.back().data());
    rec.files.push_back(pool[size_t(j)]);
    rec.snr_db.push_back(rng.uniform(spec.snr_lo, spec.snr_hi));
  }
  mix_noises(x, n, noises, rec.snr_db);
  return rec;
}

}  // namespace spk::audio
