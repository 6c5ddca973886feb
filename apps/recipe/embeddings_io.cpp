// Readers and writers for embedding and score files (see embeddings_io.h). Numbers are formatted and parsed
// with std::to_chars / std::from_chars: exact round trips, and no dependence on the C locale.
#include "apps/recipe/embeddings_io.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

namespace spk::recipe {

static_assert(std::endian::native == std::endian::little, "the .npy writer assumes a little-endian host");

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

void check_key(const char* what, const std::string& path, size_t i, const std::string& key) {
  SPK_CHECK(!key.empty(), what, ": ", path, ": key ", i, " is empty");
  for (char c : key)
    SPK_CHECK(!is_space(c), what, ": ", path, ": key ", i, " '", key, "' contains whitespace");
}

std::vector<std::string> split_ws(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream s(line);
  for (std::string t; s >> t;) out.push_back(t);
  return out;
}

// A finite double from the whole token, or an error naming file and line.
double parse_number(const char* what, const std::string& path, size_t line, const std::string& tok) {
  double v = 0;
  const char* b = tok.data();
  const char* e = b + tok.size();
  if (b != e && *b == '+') ++b;   // from_chars rejects a leading '+'; Kaldi and numpy may write one
  auto r = std::from_chars(b, e, v);
  SPK_CHECK(r.ec == std::errc() && r.ptr == e, what, ": ", path, ":", line, ": '", tok, "' is not a number");
  SPK_CHECK(std::isfinite(v), what, ": ", path, ":", line, ": '", tok, "' is not a finite number");
  return v;
}

std::string format_score(double v, int decimals) {
  char buf[64];
  auto r = decimals < 0 ? std::to_chars(buf, buf + sizeof(buf), v)
                        : std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed, decimals);
  SPK_CHECK(r.ec == std::errc(), "format_score: cannot format ", v);
  return std::string(buf, r.ptr);
}

std::ofstream open_out(const char* what, const std::string& path) {
  std::ofstream f(path, std::ios::binary);
  SPK_CHECK(f.good(), what, ": cannot open ", path, " for writing");
  return f;
}

std::ifstream open_in(const char* what, const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  SPK_CHECK(f.good(), what, ": cannot open ", path, " for reading");
  return f;
}

void finish(const char* what, const std::string& path, std::ofstream& f) {
  f.close();
  SPK_CHECK(!f.fail(), what, ": writing ", path, " failed");
}

// Lines of a text file without their '\n' (and a trailing '\r'), for the line-numbered readers.
std::vector<std::string> read_lines(const char* what, const std::string& path) {
  std::ifstream f = open_in(what, path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(f, l);) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
    lines.push_back(std::move(l));
  }
  SPK_CHECK(!f.bad(), what, ": reading ", path, " failed");
  return lines;
}

bool blank(const std::string& l) {
  for (char c : l)
    if (!is_space(c)) return false;
  return true;
}

// The value after 'key': in a .npy header dict (the text up to the next ',' or '}' at depth 0).
std::string header_field(const std::string& path, const std::string& h, const std::string& key) {
  size_t p = h.find("'" + key + "'");
  if (p == std::string::npos) p = h.find("\"" + key + "\"");
  SPK_CHECK(p != std::string::npos, "read_npy: ", path, ": header has no '", key, "': ", h);
  p = h.find(':', p);
  SPK_CHECK(p != std::string::npos, "read_npy: ", path, ": malformed header: ", h);
  size_t e = p + 1;
  int depth = 0;
  for (; e < h.size(); ++e) {
    if (h[e] == '(') ++depth;
    if (h[e] == ')') --depth;
    if (depth == 0 && (h[e] == ',' || h[e] == '}')) break;
  }
  std::string v = h.substr(p + 1, e - p - 1);
  const size_t b = v.find_first_not_of(" \t"), l = v.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : v.substr(b, l - b + 1);
}

}  // namespace

void write_npy(const std::string& path, const Tensor& matrix) {
  SPK_CHECK(matrix.defined() && matrix.dim() == 2, "write_npy: ", path, ": expected embeddings (n, D), got ",
            matrix.defined() ? matrix.str() : "undefined");
  Tensor m = matrix.to(Device::cpu()).to(DType::f32).contiguous();
  const int64_t n = m.size(0), D = m.size(1);
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(n) + ", " +
                     std::to_string(D) + "), }";
  // Magic (6) + version (2) + header length (2) + header, padded with spaces and ended by '\n' to a
  // multiple of 64 bytes, as numpy.lib.format writes it (so the data start is aligned for memory mapping).
  const size_t unpadded = 10 + dict.size() + 1;
  dict += std::string((64 - unpadded % 64) % 64, ' ') + "\n";
  SPK_CHECK(dict.size() <= 65535, "write_npy: ", path, ": header too long for format 1.0");
  std::ofstream f = open_out("write_npy", path);
  const unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(dict.size() & 0xff),
                                 (unsigned char)(dict.size() >> 8)};
  f.write(reinterpret_cast<const char*>(pre), 10);
  f.write(dict.data(), std::streamsize(dict.size()));
  f.write(reinterpret_cast<const char*>(m.data<float>()), std::streamsize(n * D * sizeof(float)));
  finish("write_npy", path, f);
}

Tensor read_npy(const std::string& path) {
  std::ifstream f = open_in("read_npy", path);
  unsigned char pre[12] = {};
  f.read(reinterpret_cast<char*>(pre), 8);
  SPK_CHECK(f.gcount() == 8 && std::memcmp(pre, "\x93NUMPY", 6) == 0, "read_npy: ", path, " is not a .npy file");
  const int major = pre[6];
  SPK_CHECK(major >= 1 && major <= 3, "read_npy: ", path, ": unsupported format version ", major, ".", int(pre[7]));
  size_t hlen = 0;
  if (major == 1) {
    f.read(reinterpret_cast<char*>(pre + 8), 2);
    hlen = size_t(pre[8]) | size_t(pre[9]) << 8;
  } else {
    f.read(reinterpret_cast<char*>(pre + 8), 4);
    hlen = size_t(pre[8]) | size_t(pre[9]) << 8 | size_t(pre[10]) << 16 | size_t(pre[11]) << 24;
  }
  std::string h(hlen, '\0');
  f.read(h.data(), std::streamsize(hlen));
  SPK_CHECK(f.good(), "read_npy: ", path, ": truncated header");
  const std::string descr = header_field(path, h, "descr");
  const std::string order = header_field(path, h, "fortran_order");
  const std::string shape = header_field(path, h, "shape");
  const bool f4 = descr == "'<f4'" || descr == "\"<f4\"";
  const bool f8 = descr == "'<f8'" || descr == "\"<f8\"";
  SPK_CHECK(f4 || f8, "read_npy: ", path, ": dtype ", descr, " is not supported (expected '<f4' or '<f8')");
  SPK_CHECK(order == "False", "read_npy: ", path, ": Fortran-ordered arrays are not supported (save C order)");
  // shape: "(n, D)" exactly two non-negative integers.
  std::vector<int64_t> dims;
  {
    SPK_CHECK(shape.size() >= 2 && shape.front() == '(' && shape.back() == ')', "read_npy: ", path,
              ": malformed shape ", shape);
    std::string inner = shape.substr(1, shape.size() - 2);
    std::istringstream s(inner);
    for (std::string tok; std::getline(s, tok, ',');) {
      const size_t b = tok.find_first_not_of(" "), e = tok.find_last_not_of(" ");
      if (b == std::string::npos) continue;
      tok = tok.substr(b, e - b + 1);
      int64_t v = -1;
      auto r = std::from_chars(tok.data(), tok.data() + tok.size(), v);
      SPK_CHECK(r.ec == std::errc() && r.ptr == tok.data() + tok.size() && v >= 0, "read_npy: ", path,
                ": malformed shape ", shape);
      dims.push_back(v);
    }
  }
  SPK_CHECK(dims.size() == 2, "read_npy: ", path, ": shape ", shape, " is not 2-D (expected embeddings (n, D))");
  const int64_t n = dims[0], D = dims[1];
  Tensor out = Tensor::empty({n, D});
  float* dst = out.data<float>();
  if (f4) {
    f.read(reinterpret_cast<char*>(dst), std::streamsize(n * D * sizeof(float)));
    SPK_CHECK(f.gcount() == std::streamsize(n * D * sizeof(float)), "read_npy: ", path, ": truncated data (shape ",
              shape, " needs ", n * D * 4, " bytes)");
  } else {
    std::vector<double> buf(size_t(std::min<int64_t>(n * D, 1 << 16)));
    for (int64_t done = 0; done < n * D;) {
      const int64_t k = std::min<int64_t>(int64_t(buf.size()), n * D - done);
      f.read(reinterpret_cast<char*>(buf.data()), std::streamsize(k * 8));
      SPK_CHECK(f.gcount() == std::streamsize(k * 8), "read_npy: ", path, ": truncated data (shape ", shape,
                " needs ", n * D * 8, " bytes)");
      for (int64_t i = 0; i < k; ++i) dst[done + i] = float(buf[size_t(i)]);
      done += k;
    }
  }
  return out;
}

void write_index(const std::string& path, const std::vector<std::string>& keys) {
  std::ofstream f = open_out("write_index", path);
  for (size_t i = 0; i < keys.size(); ++i) {
    SPK_CHECK(!keys[i].empty() && keys[i].find_first_of("\r\n") == std::string::npos, "write_index: ", path, ": key ",
              i, " is empty or contains a line break");
    f << keys[i] << '\n';
  }
  finish("write_index", path, f);
}

std::vector<std::string> read_index(const std::string& path) {
  std::vector<std::string> lines = read_lines("read_index", path);
  for (size_t i = 0; i < lines.size(); ++i)
    SPK_CHECK(!blank(lines[i]), "read_index: ", path, ":", i + 1, ": blank line");
  return lines;
}

void write_embeddings_npy(const std::string& npy_path, const std::string& index_path, const Embeddings& e) {
  SPK_CHECK(e.matrix.defined() && e.matrix.dim() == 2 && e.matrix.size(0) == int64_t(e.keys.size()),
            "write_embeddings_npy: ", npy_path, ": ", e.keys.size(), " keys for embeddings ",
            e.matrix.defined() ? e.matrix.str() : "undefined");
  write_index(index_path, e.keys);
  write_npy(npy_path, e.matrix);
}

Embeddings read_embeddings_npy(const std::string& npy_path, const std::string& index_path) {
  Embeddings e;
  e.matrix = read_npy(npy_path);
  e.keys = read_index(index_path);
  SPK_CHECK(int64_t(e.keys.size()) == e.matrix.size(0), "read_embeddings_npy: ", index_path, " lists ",
            e.keys.size(), " keys but ", npy_path, " holds ", e.matrix.size(0), " embeddings");
  return e;
}

void write_kaldi_text_ark(const std::string& path, const Embeddings& e) {
  SPK_CHECK(e.matrix.defined() && e.matrix.dim() == 2 && e.matrix.size(0) == int64_t(e.keys.size()),
            "write_kaldi_text_ark: ", path, ": ", e.keys.size(), " keys for embeddings ",
            e.matrix.defined() ? e.matrix.str() : "undefined");
  Tensor m = e.matrix.to(Device::cpu()).to(DType::f32).contiguous();
  const int64_t n = m.size(0), D = m.size(1);
  const float* p = m.data<float>();
  std::ofstream f = open_out("write_kaldi_text_ark", path);
  std::string line;
  char buf[32];
  for (int64_t i = 0; i < n; ++i) {
    check_key("write_kaldi_text_ark", path, size_t(i), e.keys[size_t(i)]);
    line = e.keys[size_t(i)] + " [ ";
    for (int64_t k = 0; k < D; ++k) {
      auto r = std::to_chars(buf, buf + sizeof(buf), p[i * D + k]);   // shortest text that reads back exactly
      line.append(buf, r.ptr);
      line += ' ';
    }
    line += "]\n";
    f << line;
  }
  finish("write_kaldi_text_ark", path, f);
}

Embeddings read_kaldi_text_ark(const std::string& path) {
  const std::vector<std::string> lines = read_lines("read_kaldi_text_ark", path);
  Embeddings e;
  std::vector<float> values;
  int64_t D = -1;
  for (size_t li = 0; li < lines.size(); ++li) {
    const std::string& raw = lines[li];
    if (blank(raw)) continue;
    const size_t lno = li + 1;
    const size_t sp = raw.find_first_of(" \t");
    SPK_CHECK(sp == std::string::npos || raw.compare(sp + 1, 2, std::string("\0B", 2)) != 0, "read_kaldi_text_ark: ",
              path, ":", lno, ": this is a binary archive; convert it with copy-vector ark:", path, " ark,t:out.txt");
    std::string spaced;
    for (char c : raw) {
      if (c == '[' || c == ']') spaced += std::string(" ") + c + " ";
      else spaced += c;
    }
    const std::vector<std::string> tok = split_ws(spaced);
    SPK_CHECK(tok.size() >= 2 && tok[1] == "[", "read_kaldi_text_ark: ", path, ":", lno,
              ": expected 'key [ v1 ... vD ]', got '", raw, "'");
    SPK_CHECK(tok[0] != "[" && tok[0] != "]", "read_kaldi_text_ark: ", path, ":", lno, ": missing key");
    SPK_CHECK(tok.back() == "]", "read_kaldi_text_ark: ", path, ":", lno,
              ": no closing ']' on this line (a matrix? only one-line vectors are read)");
    const int64_t d = int64_t(tok.size()) - 3;
    SPK_CHECK(d > 0, "read_kaldi_text_ark: ", path, ":", lno, ": empty vector for key ", tok[0]);
    if (D < 0) D = d;
    SPK_CHECK(d == D, "read_kaldi_text_ark: ", path, ":", lno, ": vector of length ", d, " for key ", tok[0],
              ", but earlier vectors have length ", D);
    for (size_t k = 2; k + 1 < tok.size(); ++k) {
      SPK_CHECK(tok[k] != "[" && tok[k] != "]", "read_kaldi_text_ark: ", path, ":", lno, ": stray '", tok[k], "'");
      values.push_back(float(parse_number("read_kaldi_text_ark", path, lno, tok[k])));
    }
    e.keys.push_back(tok[0]);
  }
  SPK_CHECK(!e.keys.empty(), "read_kaldi_text_ark: ", path, ": no embeddings");
  e.matrix = Tensor::from_vector(values, {int64_t(e.keys.size()), D});
  return e;
}

void write_scores_vt(const std::string& path, const std::vector<ScoreLine>& lines, int decimals) {
  std::ofstream f = open_out("write_scores_vt", path);
  for (size_t i = 0; i < lines.size(); ++i) {
    check_key("write_scores_vt", path, i, lines[i].enrol);
    check_key("write_scores_vt", path, i, lines[i].test);
    f << format_score(lines[i].score, decimals) << ' ' << lines[i].enrol << ' ' << lines[i].test << '\n';
  }
  finish("write_scores_vt", path, f);
}

std::vector<ScoreLine> read_scores_vt(const std::string& path) {
  const std::vector<std::string> lines = read_lines("read_scores_vt", path);
  std::vector<ScoreLine> out;
  for (size_t li = 0; li < lines.size(); ++li) {
    if (blank(lines[li])) continue;
    const std::vector<std::string> tok = split_ws(lines[li]);
    SPK_CHECK(tok.size() == 3, "read_scores_vt: ", path, ":", li + 1, ": expected 'score path1 path2', got ",
              tok.size(), " fields");
    out.push_back({tok[1], tok[2], parse_number("read_scores_vt", path, li + 1, tok[0]), -1});
  }
  return out;
}

void write_scores_kaldi(const std::string& path, const std::vector<ScoreLine>& lines, int decimals) {
  size_t labelled = 0;
  for (const ScoreLine& l : lines) labelled += l.label >= 0;
  SPK_CHECK(labelled == 0 || labelled == lines.size(), "write_scores_kaldi: ", path, ": ", labelled, " of ",
            lines.size(), " lines have a label (all or none)");
  std::ofstream f = open_out("write_scores_kaldi", path);
  for (size_t i = 0; i < lines.size(); ++i) {
    const ScoreLine& l = lines[i];
    check_key("write_scores_kaldi", path, i, l.enrol);
    check_key("write_scores_kaldi", path, i, l.test);
    SPK_CHECK(l.label >= -1 && l.label <= 1, "write_scores_kaldi: ", path, ": line ", i, " has label ", l.label);
    f << l.enrol << ' ' << l.test << ' ' << format_score(l.score, decimals);
    if (labelled) f << (l.label ? " target" : " nontarget");
    f << '\n';
  }
  finish("write_scores_kaldi", path, f);
}

std::vector<ScoreLine> read_scores_kaldi(const std::string& path) {
  const std::vector<std::string> lines = read_lines("read_scores_kaldi", path);
  std::vector<ScoreLine> out;
  for (size_t li = 0; li < lines.size(); ++li) {
    if (blank(lines[li])) continue;
    const std::vector<std::string> tok = split_ws(lines[li]);
    SPK_CHECK(tok.size() == 3 || tok.size() == 4, "read_scores_kaldi: ", path, ":", li + 1,
              ": expected 'utt1 utt2 score [target|nontarget]', got ", tok.size(), " fields");
    int label = -1;
    if (tok.size() == 4) {
      SPK_CHECK(tok[3] == "target" || tok[3] == "nontarget", "read_scores_kaldi: ", path, ":", li + 1, ": label '",
                tok[3], "' is neither target nor nontarget");
      label = tok[3] == "target";
    }
    out.push_back({tok[0], tok[1], parse_number("read_scores_kaldi", path, li + 1, tok[2]), label});
  }
  return out;
}

}  // namespace spk::recipe
