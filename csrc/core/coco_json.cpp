#include "core/coco_json.h"

#include <algorithm>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <type_traits>

#include "core/parallel.h"

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace detkit {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                             1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

constexpr uint64_t kPow10Int[] = {1ull,
                                  10ull,
                                  100ull,
                                  1000ull,
                                  10000ull,
                                  100000ull,
                                  1000000ull,
                                  10000000ull,
                                  100000000ull,
                                  1000000000ull,
                                  10000000000ull,
                                  100000000000ull,
                                  1000000000000ull,
                                  10000000000000ull,
                                  100000000000000ull,
                                  1000000000000000ull,
                                  10000000000000000ull,
                                  100000000000000000ull,
                                  1000000000000000000ull,
                                  10000000000000000000ull};  // 10^19 < 2^64

// 5^-q scaled into [2^127, 2^128) and rounded up, for q = 1..19: ceil(2^(127+k) / 5^q) with k the
// bit length of 5^q (see Scanner::scale_pow10), computed by binary long division.
struct InversePow5 {
  uint64_t hi, lo;
  int k;
};
struct InversePow5Table {
  InversePow5 entry[20];  // entry[0] unused
};
constexpr InversePow5Table make_inverse_pow5() {
  InversePow5Table t{};
  uint64_t five_q = 1;
  for (int q = 1; q <= 19; ++q) {
    five_q *= 5;
    int k = 0;
    while (five_q >> k) ++k;
    uint64_t hi = 0, lo = 0, rest = 0;
    for (int bit = 0; bit < 128 + k; ++bit) {  // the dividend's bits: a 1, then 127 + k zeros
      rest = 2 * rest + (bit == 0);
      const uint64_t digit = rest >= five_q;
      rest -= digit * five_q;
      hi = (hi << 1) | (lo >> 63);
      lo = (lo << 1) | digit;
    }
    if (++lo == 0) ++hi;  // the division is never exact: round up
    t.entry[q] = {hi, lo, k};
  }
  return t;
}
constexpr InversePow5Table kInversePow5 = make_inverse_pow5();
static_assert(kInversePow5.entry[1].hi == 0xCCCCCCCCCCCCCCCCull && kInversePow5.entry[1].lo == 0xCCCCCCCCCCCCCCCDull &&
                  kInversePow5.entry[1].k == 3,
              "2^130 / 5 rounded up");

class Scanner {
 public:
  Scanner(const char* data, size_t size) : p_(data), end_(data + size) {}

  void ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  const char* pos() const { return p_; }
  bool at_end() {
    ws();
    return p_ == end_;
  }
  // Consumes `c` (after whitespace) if it is next.
  bool eat(char c) {
    ws();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool peek(char c) {
    ws();
    return p_ < end_ && *p_ == c;
  }

  // A string; [begin, end) of its raw (still escaped) contents.
  bool string(const char*& begin, const char*& stop) {
    if (!eat('"')) return false;
    begin = p_;
    while (p_ < end_) {
      skip_plain_string_bytes();
      const char c = *p_;
      if (c == '"') {
        stop = p_++;
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c == '\\') {
        if (++p_ >= end_) return false;
        const char e = *p_;
        if (e == 'u') {
          for (int i = 0; i < 4; ++i)
            if (++p_ >= end_ || !std::isxdigit(static_cast<unsigned char>(*p_))) return false;
        } else if (e == 0 || !std::strchr("\"\\/bfnrt", e)) {  // (strchr finds the terminating 0)
          return false;
        }
      }
      ++p_;
    }
    return false;
  }

  // A JSON number (strict grammar), converted with correct rounding. The common shape, an
  // optional '-', an integer part and an optional fraction with at most 19 digits in all, is read
  // here without per-character bounds checks (only while kNumberLookahead bytes remain), fraction
  // digits eight per step where possible. m / 10^f is then rounded by Clinger's fast path for
  // m <= 2^53 (one correctly rounded division of exact operands) and otherwise (float32 values
  // printed by Python have 17 digits) by a 128-bit product with 10^-f, see scale_pow10.
  // Everything else (exponents, longer digit strings, the last bytes of the buffer, products at a
  // halfway point) goes through number_general.
  bool number(double& value) {
    ws();
    if (end_ - p_ < kNumberLookahead) return number_general(value);
    const char* q = p_;
    const bool negative = *q == '-';
    q += negative;
    const char* digits_begin = q;
    uint64_t m = 0;
    if (*q == '0') {
      ++q;
    } else if (*q >= '1' && *q <= '9') {
      while (*q >= '0' && *q <= '9' && q - digits_begin < 20) m = m * 10 + static_cast<uint64_t>(*q++ - '0');
    } else {
      return false;
    }
    int64_t digits = q - digits_begin, fraction = 0;
    if (*q == '.') {
      const char* f = ++q;
      uint32_t eight;
      while (q - f + 8 <= 19 && eight_digits(q, eight)) {
        m = m * 100000000 + eight;
        q += 8;
      }
      while (*q >= '0' && *q <= '9' && q - f < 20) m = m * 10 + static_cast<uint64_t>(*q++ - '0');
      fraction = q - f;
      if (fraction == 0) return false;
      digits += fraction;
    }
    // m wrapped around if there were more than 19 digits: it is not used then
    if (digits > 19 || (*q >= '0' && *q <= '9') || *q == 'e' || *q == 'E') return number_general(value);
    double v;
    if (m <= (uint64_t{1} << 53)) {
      v = static_cast<double>(m) / kPow10[fraction];
    } else if (fraction == 0 || !scale_pow10(m, fraction, v)) {
      return number_general(value);
    }
    value = negative ? -v : v;
    p_ = q;
    return true;
  }

  // Bytes number() may read: '-', 20 integer digits, '.', 20 fraction digits and the byte after.
  static constexpr ptrdiff_t kNumberLookahead = 43;

  // Correctly rounded m * 10^-q for 2^53 < m < 2^64 and 1 <= q <= 19 (Eisel-Lemire), or false
  // when that cannot be decided here. With w = m * 2^s normalised to 64 bits and
  // P = ceil(2^(127+k) / 5^q) (kInversePow5), the exact product T = w * 2^(127+k) / 5^q lies in
  // (w * P - 2^64, w * P), so the top 128 bits U of w * P determine the rounding of T unless a
  // halfway point between two doubles falls in that interval, which happens exactly when U's
  // bits under the 53 of the mantissa are 1 followed by zeros (then T may be the tie itself or
  // just under it). Rounding P up, not down, matters: decimal forms of exactly representable
  // values (float32 values, x.5) give U with zeros under the mantissa, never this pattern.
  static bool scale_pow10(uint64_t m, int q, double& out) {
#if defined(__SIZEOF_INT128__)
    using u128 = unsigned __int128;
    const int s = __builtin_clzll(m);
    const uint64_t w = m << s;
    const InversePow5& p = kInversePow5.entry[q];
    const u128 u = static_cast<u128>(w) * p.hi + ((static_cast<u128>(w) * p.lo) >> 64);
    const uint64_t top = static_cast<uint64_t>(u >> 64), low = static_cast<uint64_t>(u);
    // w * P is in [2^190, 2^192): U has 127 or 128 bits; keep its top 54 (mantissa, round bit)
    const int upper = static_cast<int>(top >> 63), dropped = 9 + upper;
    const uint64_t kept = top >> dropped, under = top & ((uint64_t{1} << dropped) - 1);
    if ((kept & 1) && under == 0 && low == 0) return false;  // at a halfway point
    uint64_t mantissa = (kept + 1) >> 1;                      // round bit set: above half, up
    // value = mantissa * 2^(11 + upper - s - k - q): T = value * 2^(63 + s + k + q)
    int exponent = 11 + upper - s - p.k - q;
    if (mantissa == (uint64_t{1} << 53)) {  // rounded up to the next binade
      mantissa >>= 1;
      ++exponent;
    }
    // m < 2^64 and q <= 19 keep the value normal: biased exponent field exponent + 52 + 1023
    const uint64_t bits = (static_cast<uint64_t>(exponent + 1075) << 52) | (mantissa & ((uint64_t{1} << 52) - 1));
    std::memcpy(&out, &bits, 8);
    return true;
#else
    (void)m;
    (void)q;
    (void)out;
    return false;
#endif
  }

  bool number_general(double& value) {
    ws();
    const char* start = p_;
    const char* q = p_;
    const bool negative = q < end_ && *q == '-';
    if (negative) ++q;
    if (q >= end_) return false;
    uint64_t mantissa = 0;
    int digits = 0;  // significant digits accumulated in mantissa
    bool exact = true;
    int64_t exponent = 0;
    auto take = [&](char c, bool fraction) {
      const uint64_t d = static_cast<uint64_t>(c - '0');
      if (mantissa == 0 && d == 0) {
        if (fraction) --exponent;
        return;
      }
      if (digits < 19) {
        mantissa = mantissa * 10 + d;
        ++digits;
        if (fraction) --exponent;
      } else {
        exact = false;
      }
    };
    if (*q == '0') {
      ++q;
    } else if (*q >= '1' && *q <= '9') {
      while (q < end_ && *q >= '0' && *q <= '9') take(*q++, false);
    } else {
      return false;
    }
    if (q < end_ && *q == '.') {
      ++q;
      if (q >= end_ || !(*q >= '0' && *q <= '9')) return false;
      // eight fraction digits at a time once the mantissa is under way (long float reprs)
      uint32_t eight;
      while (mantissa != 0 && digits + 8 <= 19 && end_ - q >= 8 && eight_digits(q, eight)) {
        mantissa = mantissa * 100000000 + eight;
        digits += 8;
        exponent -= 8;
        q += 8;
      }
      while (q < end_ && *q >= '0' && *q <= '9') take(*q++, true);
    }
    if (q < end_ && (*q == 'e' || *q == 'E')) {
      ++q;
      bool exp_negative = false;
      if (q < end_ && (*q == '+' || *q == '-')) exp_negative = *q++ == '-';
      if (q >= end_ || !(*q >= '0' && *q <= '9')) return false;
      int64_t e = 0;
      while (q < end_ && *q >= '0' && *q <= '9') {
        if (e < 100000) e = e * 10 + (*q - '0');
        ++q;
      }
      exponent += exp_negative ? -e : e;
    }
    if (exact && mantissa <= (uint64_t{1} << 53) && exponent >= -22 && exponent <= 22) {
      double v = static_cast<double>(mantissa);
      v = exponent < 0 ? v / kPow10[-exponent] : v * kPow10[exponent];
      value = negative ? -v : v;
    } else {
      const auto res = std::from_chars(start, q, value);
      if (res.ec != std::errc() || res.ptr != q) return false;  // also rejects overflow to inf
    }
    p_ = q;
    return true;
  }

  // If the 8 bytes at p are all ASCII digits, their decimal value (SWAR: two digits, then four,
  // then eight combined per step on little-endian words).
  static bool eight_digits(const char* p, uint32_t& value) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    std::memcpy(&v, p, 8);
    if (((v & 0xF0F0F0F0F0F0F0F0ull) | (((v + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) >> 4)) !=
        0x3333333333333333ull)
      return false;
    v -= 0x3030303030303030ull;
    v = (v * 10) + (v >> 8);  // pairs: byte 2i holds digits 2i, 2i+1
    v = (((v & 0x000000FF000000FFull) * (100 + (1000000ull << 32))) +
         (((v >> 16) & 0x000000FF000000FFull) * (1 + (10000ull << 32)))) >> 32;
    value = static_cast<uint32_t>(v);
    return true;
#else
    (void)p;
    (void)value;
    return false;
#endif
  }

  // Advances over string bytes other than '"', '\\' and control characters, eight at a time while
  // more than eight remain (so p_ stays before the end); stops at the first of those. Keys and
  // file names are mostly such bytes.
  void skip_plain_string_bytes() {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
    while (end_ - p_ > 8) {
      uint64_t v;
      std::memcpy(&v, p_, 8);  // byte i is p_[i]
      // High bit set in bytes equal to '"' or '\\' or below 0x20 (x - 1 borrows into the high bit
      // of a zero byte; bytes >= 0x80 are excluded by ~v). A borrow only runs upwards from a
      // flagged byte, so the lowest flag is always the first such byte.
      const uint64_t quote = v ^ (kOnes * '"'), backslash = v ^ (kOnes * '\\');
      const uint64_t flags = (((quote - kOnes) & ~quote) | ((backslash - kOnes) & ~backslash) |
                              ((v - kOnes * 0x20) & ~v)) & kHigh;
      if (flags) {
        p_ += __builtin_ctzll(flags) >> 3;
        return;
      }
      p_ += 8;
    }
#endif
  }

  // A number or true/false (as 1/0), e.g. for "iscrowd".
  bool number_or_bool(double& value) {
    ws();
    if (match_word("true")) {
      value = 1;
      return true;
    }
    if (match_word("false")) {
      value = 0;
      return true;
    }
    return number(value);
  }

  // An integral number that fits int64 (ids: 3 and 3.0 both read as 3, like Python dict keys).
  bool integer(int64_t& value) {
    double v;
    if (!number(v)) return false;
    if (!(v == std::floor(v)) || std::fabs(v) > 9007199254740992.0) return false;
    value = static_cast<int64_t>(v);
    return true;
  }

  // An integer written as one (no fraction or exponent: "size": [3.0, 4] is not an RLE size in
  // Python either) that fits int64.
  bool integer_literal(int64_t& value) {
    ws();
    const char* start = p_;
    if (!integer(value)) return false;
    for (const char* q = start; q < p_; ++q)
      if (*q != '-' && (*q < '0' || *q > '9')) return false;
    return true;
  }

  // A string's contents with JSON escapes resolved, appended to out; false for escapes of
  // characters outside ASCII (never part of a compressed RLE, which the caller then rejects).
  bool string_into(Column<char>& out) {
    const char *b, *e;
    if (!string(b, e)) return false;
    if (!std::memchr(b, '\\', static_cast<size_t>(e - b))) {  // the usual case: nothing to resolve
      out.insert(out.end(), b, e);
      return true;
    }
    for (const char* q = b; q < e; ++q) {
      if (*q != '\\') {
        out.push_back(*q);
        continue;
      }
      const char c = *++q;
      if (c == 'u') {
        unsigned code = 0;
        for (int i = 1; i <= 4; ++i) code = code * 16 + hex_value(q[i]);
        if (code >= 0x80) return false;
        out.push_back(static_cast<char>(code));
        q += 4;
      } else {
        const char* from = "\"\\/bfnrt";
        const char* to = "\"\\/\b\f\n\r\t";
        out.push_back(to[std::strchr(from, c) - from]);
      }
    }
    return true;
  }

  void seek(const char* p) { p_ = p; }

  // [n0, n1, ...] of numbers appended to out; count returned in n.
  bool number_array(Column<double>& out, int64_t& n) {
    if (!eat('[')) return false;
    n = 0;
    if (eat(']')) return true;
    do {
      double v;
      if (!number(v)) return false;
      out.push_back(v);
      ++n;
    } while (eat(','));
    return eat(']');
  }

  bool skip_value(int depth = 0) {
    if (depth > 512) return false;
    ws();
    if (p_ >= end_) return false;
    const char c = *p_;
    if (c == '"') {
      const char *b, *e;
      return string(b, e);
    }
    if (c == '{') {
      ++p_;
      if (eat('}')) return true;
      do {
        const char *b, *e;
        if (!string(b, e) || !eat(':') || !skip_value(depth + 1)) return false;
      } while (eat(','));
      return eat('}');
    }
    if (c == '[') {
      ++p_;
      if (eat(']')) return true;
      do {
        if (!skip_value(depth + 1)) return false;
      } while (eat(','));
      return eat(']');
    }
    if (match_word("true") || match_word("false") || match_word("null")) return true;
    double v;
    return number(v);
  }

  // Iterates the members of an object: fn(key_begin, key_end) must consume the value.
  template <class F>
  bool object(F&& fn) {
    if (!eat('{')) return false;
    if (eat('}')) return true;
    do {
      const char *b, *e;
      if (!string(b, e) || !eat(':')) return false;
      if (!fn(b, e)) return false;
    } while (eat(','));
    return eat('}');
  }

  // Iterates the elements of an array: fn() must consume each element.
  template <class F>
  bool array(F&& fn) {
    if (!eat('[')) return false;
    if (eat(']')) return true;
    do {
      if (!fn()) return false;
    } while (eat(','));
    return eat(']');
  }

 private:
  static unsigned hex_value(char c) {  // c is a hex digit (string() checked)
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
  }

  // (word's length a compile-time constant: the comparison is inlined, no strlen per call)
  template <size_t N>
  bool match_word(const char (&w)[N]) {
    constexpr size_t n = N - 1;
    if (static_cast<size_t>(end_ - p_) >= n && std::memcmp(p_, w, n) == 0) {
      p_ += n;
      return true;
    }
    return false;
  }

  const char* p_;
  const char* end_;
};

// Whether [b, e) is `name` (a literal: its length is known at compile time, the comparison inlined).
template <size_t N>
bool key_is(const char* b, const char* e, const char (&name)[N]) {
  constexpr size_t n = N - 1;
  return static_cast<size_t>(e - b) == n && std::memcmp(b, name, n) == 0;
}

// Reads [x, y, w, h] into four slots; false unless exactly four numbers.
bool read_box(Scanner& s, double* box) {
  if (!s.eat('[')) return false;
  for (int i = 0; i < 4; ++i)
    if ((i > 0 && !s.eat(',')) || !s.number(box[i])) return false;
  return s.eat(']');
}

// Reads record `row`'s keypoint array straight into `keypoints` (rows of `width` values; records
// before it without keypoints become NaN rows), fixing the width on first use; a repeated key
// replaces the row. False unless every row has the same length.
bool read_keypoints(Scanner& s, Column<double>& keypoints, int64_t& width, int64_t row) {
  int64_t n = 0;
  if (width >= 0) {
    keypoints.resize(static_cast<size_t>(row * width), kNaN);
    return s.number_array(keypoints, n) && n == width;
  }
  if (!s.number_array(keypoints, n)) return false;  // the first row: nothing stored before it
  width = n;
  keypoints.insert(keypoints.begin(), static_cast<size_t>(row * width), kNaN);
  return true;
}

// Guessed record starts splitting [first, end) into up to `chunks` pieces: the first '{' after a
// ',' past each split (the caller accepts a guess only when the previous chunk, parsed from a
// known record start, ends exactly there). The first piece is one thread's share of the bytes
// (its columns are later extended in place by the others', see concatenate); the rest is split
// evenly, several pieces per other thread, which the dynamic schedule balances.
std::vector<const char*> guess_chunk_starts(const char* first, const char* end, int64_t chunks) {
  std::vector<const char*> starts{first};
  const double bytes = static_cast<double>(end - first);
  const double first_share = 1.0 / static_cast<double>(std::max(get_num_threads(), 2));
  for (int64_t c = 1; c < chunks; ++c) {
    const double split = first_share + (1 - first_share) * static_cast<double>(c - 1) / static_cast<double>(chunks - 1);
    const char* g = first + static_cast<ptrdiff_t>(bytes * split);
    for (; g < end; ++g) {
      if (*g != '{') continue;
      const char* b = g - 1;
      while (b > first && (*b == ' ' || *b == '\n' || *b == '\r' || *b == '\t')) --b;
      if (*b == ',') break;
    }
    if (g >= end || g <= starts.back()) break;
    starts.push_back(g);
  }
  return starts;
}

// Appends NaN-filled keypoint rows so `keypoints` holds `rows` complete rows (once the width is known).
void pad_keypoints(Column<double>& keypoints, int64_t width, int64_t rows) {
  if (width >= 0) keypoints.resize(static_cast<size_t>(rows * width), kNaN);
}

// Reads a "segmentation" value into seg and returns its kind: polygons [[x0, y0, ...], ...], or an
// RLE {"size": [h, w], "counts": "string" | [run lengths]}. Any other value or shape is skipped
// (after checking its syntax) and reported as kOther; false only for malformed JSON.
bool read_segmentation(Scanner& s, CocoSegmentations& seg, uint8_t& kind, int64_t* size) {
  s.ws();
  const char* start = s.pos();
  const size_t values = seg.values.size(), parts = seg.part_offsets.size(), chars = seg.chars.size();
  auto end_part = [&] {
    seg.part_offsets.push_back(static_cast<int64_t>(seg.values.size()));
    return true;
  };
  kind = kOther;
  if (s.peek('[')) {
    if (s.array([&] {
          int64_t n;
          return s.number_array(seg.values, n) && end_part();
        }))
      kind = kPolygons;
  } else if (s.peek('{')) {
    bool have_size = false, have_counts = false;
    uint8_t counts_kind = kOther;
    const bool ok = s.object([&](const char* b, const char* e) {
      if (key_is(b, e, "size")) {
        if (have_size) return false;
        return have_size = s.eat('[') && s.integer_literal(size[0]) && s.eat(',') && s.integer_literal(size[1]) &&
                           s.eat(']');
      }
      if (key_is(b, e, "counts")) {
        if (have_counts) return false;
        have_counts = true;
        int64_t n;
        if (s.peek('"')) return (counts_kind = kRleString, s.string_into(seg.chars));
        return (counts_kind = kRleCounts, s.number_array(seg.values, n) && end_part());
      }
      return s.skip_value();
    });
    if (ok && have_size && have_counts) kind = counts_kind;
  }
  if (kind == kOther) {  // undo what was read and skip the value whole
    seg.values.resize(values);
    seg.part_offsets.resize(parts);
    seg.chars.resize(chars);
    size[0] = size[1] = 0;
    s.seek(start);
    return s.skip_value();
  }
  if (kind != kRleString && kind != kRleCounts) size[0] = size[1] = 0;
  return true;
}

// Closes record `kind`'s segmentation entries (kAbsent: the record has none).
void end_segmentation(CocoSegmentations& seg, uint8_t kind, const int64_t* size) {
  if (kind == kAbsent && seg.kind.empty()) {
    ++seg.unwritten_absent;
    return;
  }
  seg.write_unwritten();
  seg.kind.push_back(kind);
  seg.size.insert(seg.size.end(), size, size + 2);
  seg.record_parts.push_back(static_cast<int64_t>(seg.part_offsets.size()) - 1);
  seg.chars_offsets.push_back(static_cast<int64_t>(seg.chars.size()));
}

}  // namespace

void CocoSegmentations::write_unwritten() {
  const auto n = static_cast<size_t>(unwritten_absent);
  unwritten_absent = 0;
  if (n == 0) return;
  kind.insert(kind.end(), n, kAbsent);
  size.insert(size.end(), 2 * n, 0);
  // the record's parts and characters are the ones before: none when none has a segmentation
  const int64_t parts = record_parts.back(), chars_end = chars_offsets.back();
  record_parts.insert(record_parts.end(), n, parts);
  chars_offsets.insert(chars_offsets.end(), n, chars_end);
}

void CocoSegmentations::append_offsets(const CocoSegmentations& other) {
  auto shifted = [](Column<int64_t>& to, const Column<int64_t>& from, int64_t by) {
    for (size_t i = 1; i < from.size(); ++i) to.push_back(from[i] + by);
  };
  shifted(record_parts, other.record_parts, record_parts.back());
  shifted(part_offsets, other.part_offsets, part_offsets.back());
  shifted(chars_offsets, other.chars_offsets, chars_offsets.back());
}

namespace {

// Calls f(a.column, b.column) for every per-record column of two column sets, the segmentation's
// offset arrays aside (they need shifting: CocoSegmentations::append_offsets).
template <class F>
void for_each_column(CocoSegmentations& a, CocoSegmentations& b, F&& f) {
  f(a.kind, b.kind);
  f(a.size, b.size);
  f(a.values, b.values);
  f(a.chars, b.chars);
}

template <class F>
void for_each_column(CocoResultColumns& a, CocoResultColumns& b, F&& f) {
  f(a.image_id, b.image_id);
  f(a.category_id, b.category_id);
  f(a.bbox, b.bbox);
  f(a.score, b.score);
  f(a.keypoints, b.keypoints);
  f(a.has_bbox, b.has_bbox);
  f(a.has_score, b.has_score);
  f(a.has_keypoints, b.has_keypoints);
  for_each_column(a.segmentation, b.segmentation, f);
}

template <class F>
void for_each_column(CocoInstanceColumns& a, CocoInstanceColumns& b, F&& f) {
  f(a.id, b.id);
  f(a.ann_image_id, b.ann_image_id);
  f(a.ann_category_id, b.ann_category_id);
  f(a.bbox, b.bbox);
  f(a.area, b.area);
  f(a.iscrowd, b.iscrowd);
  f(a.ignore, b.ignore);
  f(a.num_keypoints, b.num_keypoints);
  f(a.keypoints, b.keypoints);
  f(a.has_bbox, b.has_bbox);
  f(a.has_area, b.has_area);
  f(a.has_iscrowd, b.has_iscrowd);
  f(a.has_ignore, b.has_ignore);
  f(a.has_num_keypoints, b.has_num_keypoints);
  f(a.has_keypoints, b.has_keypoints);
  for_each_column(a.segmentation, b.segmentation, f);
}

// Columns are reserved once the first kSampleRecords records of a chunk are read, for as many
// records as the chunk's size suggests (the records of one file are alike) and a margin: grown by
// doubling, the large columns would be copied, and fresh pages faulted in, at every step.
constexpr int64_t kSampleRecords = 64;

template <class T>
void reserve_scaled(Column<T>& v, double scale) {
  try {
    v.reserve(static_cast<size_t>(static_cast<double>(v.size()) * scale));
  } catch (const std::bad_alloc&) {  // only a speed-up (an estimate that may be too large): go on
  }
}

// Every column of a chunk's output, the segmentation's offset arrays included.
template <class Columns>
void reserve_all(Columns& out, double scale) {
  for_each_column(out, out, [scale](auto& v, auto&) { reserve_scaled(v, scale); });
  for (auto* offsets : {&out.segmentation.record_parts, &out.segmentation.part_offsets,
                        &out.segmentation.chars_offsets})
    reserve_scaled(*offsets, scale);
}

// The scale for a chunk of `chunk_bytes` of which `read_bytes` held the sample.
double reserve_scale(ptrdiff_t chunk_bytes, ptrdiff_t read_bytes) {
  return 1.125 * static_cast<double>(chunk_bytes) / static_cast<double>(std::max<ptrdiff_t>(read_bytes, 1));
}

// Reads one result record (an object) at the scanner's position and appends it to out.
bool read_result(Scanner& s, CocoResultColumns& out) {
  int64_t image_id = 0, category_id = 0;
  bool have_image = false, have_category = false, have_box = false, have_score = false, have_kp = false;
  double box[4] = {kNaN, kNaN, kNaN, kNaN}, score = kNaN;
  uint8_t segm = kAbsent;
  int64_t segm_size[2] = {0, 0};
  const bool obj = s.object([&](const char* b, const char* e) {
    if (key_is(b, e, "image_id")) return have_image = s.integer(image_id);
    if (key_is(b, e, "category_id")) return have_category = s.integer(category_id);
    if (key_is(b, e, "bbox")) return have_box = read_box(s, box);
    if (key_is(b, e, "score")) return have_score = s.number(score);
    if (key_is(b, e, "keypoints")) return have_kp = read_keypoints(s, out.keypoints, out.num_keypoint_values, out.size());
    if (key_is(b, e, "segmentation"))  // a repeated one (rare) is left to the general parser
      return segm == kAbsent && read_segmentation(s, out.segmentation, segm, segm_size);
    return s.skip_value();
  });
  if (!obj || !have_image || !have_category) return false;
  const int64_t row = out.size();
  out.image_id.push_back(image_id);
  out.category_id.push_back(category_id);
  out.bbox.insert(out.bbox.end(), box, box + 4);
  out.score.push_back(score);
  out.has_bbox.push_back(have_box);
  out.has_score.push_back(have_score);
  out.has_keypoints.push_back(have_kp);
  if (!have_kp) pad_keypoints(out.keypoints, out.num_keypoint_values, row + 1);
  end_segmentation(out.segmentation, segm, segm_size);
  return true;
}

// Drops the pages of a file mapping behind a chunk's parser (MADV_DONTNEED, every MB), so a
// large file does not stay resident in full until the parse ends. A page touched again (a chunk
// reparsed after a wrong start guess) is read back from the page cache. Only for read-only shared
// file mappings: the contents of other memory would be lost.
class ParsedPages {
 public:
  ParsedPages(bool enabled, const char* begin) : enabled_(enabled), released_(begin) {}
  // The parser has passed `pos`.
  void passed(const char* pos) {
    if (!enabled_ || pos - released_ < kStep) return;
#if defined(MADV_DONTNEED)
    static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const uintptr_t from = (reinterpret_cast<uintptr_t>(released_) + page - 1) / page * page;
    const uintptr_t to = reinterpret_cast<uintptr_t>(pos) / page * page;
    if (to > from) madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);  // only a hint: errors ignored
    released_ = reinterpret_cast<const char*>(to);
#endif
  }

 private:
  static constexpr ptrdiff_t kStep = ptrdiff_t{1} << 20;
  bool enabled_;
  const char* released_;
};

// Parses records from `begin` (a record's '{') until the scanner reaches `stop` right after a
// ',' (true: the chunk ends exactly where the next chunk starts) or, when stop is null, the
// closing ']' and the end of the input.
bool parse_result_chunk(const char* begin, const char* end, const char* stop, CocoResultColumns& out,
                        bool release_pages, bool reserve_to_end = false) {
  Scanner s(begin, static_cast<size_t>(end - begin));
  ParsedPages pages(release_pages, begin);
  for (;;) {
    if (!read_result(s, out)) return false;
    pages.passed(s.pos());
    if (out.size() == kSampleRecords) {
      const double scale = reserve_scale((stop && !reserve_to_end ? stop : end) - begin, s.pos() - begin);
      reserve_all(out, scale);
    }
    if (s.eat(',')) {
      if (stop) {
        s.ws();
        if (s.pos() == stop) return true;
        if (s.pos() > stop) return false;
      }
      continue;
    }
    return !stop && s.eat(']') && s.at_end();
  }
}

// Reads one annotation object at the scanner's position and appends it to out.
bool read_annotation(Scanner& s, CocoInstanceColumns& out) {
  int64_t id = 0, image_id = 0, category_id = 0;
  bool have_id = false, have_image = false, have_category = false, have_box = false, have_area = false,
       have_crowd = false, have_ignore = false, have_nkp = false, have_kp = false;
  double box[4] = {kNaN, kNaN, kNaN, kNaN}, area = kNaN, crowd = 0, ignore = 0, nkp = kNaN;
  uint8_t segm = kAbsent;
  int64_t segm_size[2] = {0, 0};
  const bool obj = s.object([&](const char* b, const char* e) {
    if (key_is(b, e, "id")) return have_id = s.integer(id);
    if (key_is(b, e, "image_id")) return have_image = s.integer(image_id);
    if (key_is(b, e, "category_id")) return have_category = s.integer(category_id);
    if (key_is(b, e, "bbox")) return have_box = read_box(s, box);
    if (key_is(b, e, "area")) return have_area = s.number(area);
    if (key_is(b, e, "iscrowd")) return have_crowd = s.number_or_bool(crowd);
    if (key_is(b, e, "ignore")) return have_ignore = s.number_or_bool(ignore);
    if (key_is(b, e, "num_keypoints")) return have_nkp = s.number(nkp);
    if (key_is(b, e, "keypoints"))
      return have_kp = read_keypoints(s, out.keypoints, out.num_keypoint_values, static_cast<int64_t>(out.id.size()));
    if (key_is(b, e, "segmentation"))
      return segm == kAbsent && read_segmentation(s, out.segmentation, segm, segm_size);
    return s.skip_value();
  });
  if (!obj || !have_id || !have_image || !have_category) return false;
  const int64_t row = static_cast<int64_t>(out.id.size());
  out.id.push_back(id);
  out.ann_image_id.push_back(image_id);
  out.ann_category_id.push_back(category_id);
  out.bbox.insert(out.bbox.end(), box, box + 4);
  out.area.push_back(area);
  out.iscrowd.push_back(crowd);
  out.ignore.push_back(ignore);
  out.num_keypoints.push_back(nkp);
  out.has_bbox.push_back(have_box);
  out.has_area.push_back(have_area);
  out.has_iscrowd.push_back(have_crowd);
  out.has_ignore.push_back(have_ignore);
  out.has_num_keypoints.push_back(have_nkp);
  out.has_keypoints.push_back(have_kp);
  if (!have_kp) pad_keypoints(out.keypoints, out.num_keypoint_values, row + 1);
  end_segmentation(out.segmentation, segm, segm_size);
  return true;
}

// Parses annotation records from `begin` (a record's '{') until the scanner reaches `stop` right
// after a ',' (returns 1) or the array's closing ']' (returns 2, with *close just past it);
// 0 on failure. With stop null, only the closing ']' ends the chunk.
int parse_annotation_chunk(const char* begin, const char* end, const char* stop, CocoInstanceColumns& out,
                           const char** close, bool release_pages, bool reserve_to_end = false) {
  Scanner s(begin, static_cast<size_t>(end - begin));
  ParsedPages pages(release_pages, begin);
  for (;;) {
    if (!read_annotation(s, out)) return 0;
    pages.passed(s.pos());
    if (static_cast<int64_t>(out.id.size()) == kSampleRecords) {
      // without `stop` (or reserving to the end) the bytes counted run to the end of the file,
      // past the array: a larger reservation than needed, address space that is never touched
      const double scale = reserve_scale((stop && !reserve_to_end ? stop : end) - begin, s.pos() - begin);
      reserve_all(out, scale);
    }
    if (s.eat(',')) {
      if (stop) {
        s.ws();
        if (s.pos() == stop) return 1;
        if (s.pos() > stop) return 0;
      }
      continue;
    }
    if (!s.eat(']')) return 0;
    *close = s.pos();
    return 2;
  }
}

// How many chunks to parse `bytes` of records in: one per thread would leave a thread idle
// whenever the other's half parses slower, so several per thread (of at least 1 MB each), which
// the dynamic schedule balances; a single thread reads everything in one go.
int64_t chunk_count(ptrdiff_t bytes) {
  constexpr int64_t kChunksPerThread = 4;
  const int64_t threads = get_num_threads();
  return threads <= 1 ? 1 : std::max<int64_t>(1, std::min<int64_t>(kChunksPerThread * threads, bytes >> 20));
}

// Joins the chunks' columns into out's (empty) ones, keypoint rows already completed. A single
// chunk is taken as it is. Otherwise each column is sized once, uninitialised: the first chunk's
// own column when it was reserved for everything (its rows then stay where they are), else a new
// one; the other chunks are copied into place in parallel, each freed once copied. Memory peaks
// at the output plus the chunks not yet copied (not twice everything, with the doubling slack of
// growing vectors).
template <class Columns>
void concatenate(std::vector<Columns>& parts, Columns& out) {
  // records without segmentations stay unwritten only if no chunk has a segmentation
  int64_t unwritten = 0;
  for (auto& part : parts) unwritten += part.segmentation.unwritten_absent;
  if (!std::all_of(parts.begin(), parts.end(), [](const Columns& p) { return p.segmentation.kind.empty(); })) {
    for (auto& part : parts) part.segmentation.write_unwritten();
    unwritten = 0;
  }
  out.segmentation.unwritten_absent = unwritten;
  for (auto& part : parts) out.segmentation.append_offsets(part.segmentation);
  const size_t n = parts.size();
  if (n == 1) {
    for_each_column(out, parts[0], [](auto& o, auto& p) { o.swap(p); });
    return;
  }
  // offsets[c][k]: where chunk c's rows go in the k-th column (the sizes of the chunks before it)
  std::vector<std::vector<size_t>> offsets(n);
  std::vector<size_t> totals;
  for (size_t c = 0; c < n; ++c) {
    size_t k = 0;
    for_each_column(out, parts[c], [&](auto&, auto& p) {
      if (c == 0) totals.push_back(0);
      offsets[c].push_back(totals[k]);
      totals[k++] += p.size();
    });
  }
  size_t k = 0;
  for_each_column(out, parts[0], [&](auto& o, auto& first) {
    const size_t total = totals[k++];
    if (first.capacity() >= total) o.swap(first);  // extended in place; the first chunk's copy is then skipped
    o.resize(total);
  });
  parallel_for(static_cast<int64_t>(n), 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      size_t column = 0;
      for_each_column(out, parts[c], [&](auto& o, auto& p) {
        if (!p.empty()) std::memcpy(o.data() + offsets[c][column], p.data(), p.size() * sizeof(p[0]));
        ++column;
        std::remove_reference_t<decltype(p)>().swap(p);
      });
    }
  });
}

// The annotations array whose '[' the scanner is at, parsed in parallel chunks for large inputs
// (chunk starts are guesses, accepted as for result files; chunks past the array's end are
// dropped); the scanner is left after the closing ']'.
bool read_annotations(Scanner& s, const char* end, CocoInstanceColumns& out, bool release_pages) {
  if (!s.eat('[')) return false;
  if (s.eat(']')) return true;
  s.ws();
  const char* first = s.pos();
  const std::vector<const char*> starts = guess_chunk_starts(first, end, chunk_count(end - first));
  const int64_t n = static_cast<int64_t>(starts.size());
  std::vector<CocoInstanceColumns> parts(n);
  std::vector<int> status(n, 0);
  std::vector<const char*> closes(n, nullptr);
  parallel_for(n, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c)
      status[c] = parse_annotation_chunk(starts[c], end, c + 1 < n ? starts[c + 1] : nullptr, parts[c], &closes[c],
                                         release_pages, c == 0);
  });
  int64_t used = 0;  // chunks up to the one holding the closing ']'
  while (used < n && status[used] == 1) ++used;
  bool ok = used < n && status[used] == 2;
  int64_t width = -1;
  for (int64_t c = 0; ok && c <= used; ++c) {
    if (parts[c].num_keypoint_values < 0) continue;
    if (width >= 0 && parts[c].num_keypoint_values != width) ok = false;
    width = parts[c].num_keypoint_values;
  }
  const char* close = ok ? closes[used] : nullptr;
  if (!ok) {
    if (n == 1) return false;
    CocoInstanceColumns whole;
    if (parse_annotation_chunk(first, end, nullptr, whole, &close, release_pages) != 2) return false;
    parts.assign(1, std::move(whole));
    used = 0;
    width = parts[0].num_keypoint_values;
  }
  out.num_keypoint_values = width;
  parts.resize(used + 1);
  for (auto& part : parts)
    if (width >= 0 && part.num_keypoint_values < 0)  // a chunk without keypoints: NaN rows
      part.keypoints.assign(part.id.size() * static_cast<size_t>(width), kNaN);
  concatenate(parts, out);
  s = Scanner(close, static_cast<size_t>(end - close));
  return true;
}

}  // namespace

bool parse_coco_results(const char* data, size_t size, CocoResultColumns& out, bool release_parsed_pages) {
  Scanner s(data, size);
  if (!s.eat('[')) return false;
  if (s.eat(']')) return s.at_end();
  s.ws();
  const char* first = s.pos();
  const char* end = data + size;
  // Large files are split into chunks parsed by separate threads. A chunk boundary is only a
  // guess (the next '{' after a ',' past an even split); it is accepted when the previous chunk,
  // parsed from a known record start, ends exactly there, so the result is the sequential one.
  const std::vector<const char*> starts = guess_chunk_starts(first, end, chunk_count(end - first));
  const int64_t n = static_cast<int64_t>(starts.size());
  std::vector<CocoResultColumns> parts(n);
  std::vector<uint8_t> ok(n, 0);
  parallel_for(n, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c)
      ok[c] = parse_result_chunk(starts[c], end, c + 1 < n ? starts[c + 1] : nullptr, parts[c], release_parsed_pages,
                                 c == 0);
  });
  bool all = std::all_of(ok.begin(), ok.end(), [](uint8_t v) { return v != 0; });
  int64_t width = -1;  // keypoint row length: every chunk that has keypoints must agree
  for (const auto& part : parts) {
    if (part.num_keypoint_values < 0) continue;
    if (width >= 0 && part.num_keypoint_values != width) all = false;
    width = part.num_keypoint_values;
  }
  if (!all) {
    if (n == 1) return false;
    out = CocoResultColumns();
    return parse_result_chunk(first, end, nullptr, out, release_parsed_pages);
  }
  out.num_keypoint_values = width;
  for (auto& part : parts)
    if (width >= 0 && part.num_keypoint_values < 0)  // a chunk without keypoints: NaN rows
      part.keypoints.assign(static_cast<size_t>(part.size() * width), kNaN);
  concatenate(parts, out);
  return true;
}

bool parse_coco_instances(const char* data, size_t size, CocoInstanceColumns& out, bool release_parsed_pages) {
  Scanner s(data, size);
  // Reads one {"id": ..., ...} record (other keys skipped) and appends its id to `ids`, and for
  // images its "height" and "width" (-1 when absent or not an integer) to `heights`, `widths`.
  auto read_id_into = [&](Column<int64_t>& ids, Column<int64_t>* heights = nullptr,
                          Column<int64_t>* widths = nullptr) {
    return [&s, &ids, heights, widths]() {
      int64_t id = 0, height = -1, width = -1;
      bool have_id = false;
      auto dimension = [&s](int64_t& value) {
        s.ws();
        const char* start = s.pos();
        if (s.integer_literal(value)) return true;
        value = -1;
        s.seek(start);
        return s.skip_value();
      };
      const bool obj = s.object([&](const char* b, const char* e) {
        if (key_is(b, e, "id")) return have_id = s.integer(id);
        if (heights && key_is(b, e, "height")) return dimension(height);
        if (widths && key_is(b, e, "width")) return dimension(width);
        return s.skip_value();
      });
      if (!obj || !have_id) return false;
      ids.push_back(id);
      if (heights) heights->push_back(height);
      if (widths) widths->push_back(width);
      return true;
    };
  };
  auto image = read_id_into(out.image_id, &out.image_height, &out.image_width);
  auto category = read_id_into(out.category_id);
  const bool ok = s.object([&](const char* b, const char* e) {
    // a repeated key replaces the earlier value, as in Python's json module
    if (key_is(b, e, "images")) {
      out.image_id.clear();
      out.image_height.clear();
      out.image_width.clear();
      return out.has_images = s.array(image);
    }
    if (key_is(b, e, "categories")) {
      out.category_id.clear();
      return out.has_categories = s.array(category);
    }
    if (key_is(b, e, "annotations")) {
      if (out.has_annotations) return false;  // rare: let the general parser handle it
      return out.has_annotations = read_annotations(s, data + size, out, release_parsed_pages);
    }
    return s.skip_value();
  });
  return ok && s.at_end();
}

}  // namespace detkit
