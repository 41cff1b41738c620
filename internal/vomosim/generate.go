package vomosim

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

// Word lists for generated data. Domains are the reserved example.* ones so
// generated addresses can never reach a real mailbox.
var (
	firstNames = []string{"Maria", "James", "Aisha", "Wei", "Olivia", "Liam", "Sofia", "Noah", "Fatima", "Lucas",
		"Emma", "Mateo", "Chloe", "Ethan", "Priya", "Daniel", "Hannah", "Kenji", "Grace", "Omar",
		"Isabella", "Samuel", "Zoe", "Diego", "Amara", "Benjamin", "Lily", "Arjun", "Ava", "Elijah",
		"Mia", "Gabriel", "Nora", "Hugo", "Leah", "Tomás", "Ingrid", "Kwame", "Yuki", "Rosa",
		"Patrick", "Naomi", "Andre", "Elena", "Victor", "Sara", "Malik", "Julia", "Felix", "Ruth"}
	lastNames = []string{"Garcia", "Smith", "Johnson", "Nguyen", "Williams", "Brown", "Martinez", "Lee", "Davis", "Lopez",
		"Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Thompson", "White", "Harris",
		"Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres",
		"Hill", "Green", "Adams", "Baker", "Nelson", "Carter", "Mitchell", "Perez", "Roberts", "Turner",
		"Phillips", "Campbell", "Parker", "Evans", "Edwards", "Collins", "Stewart", "Sanchez", "Morris", "O'Brien"}
	streets = []string{"Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Pine St", "Elm St", "Washington Ave", "Lake Rd",
		"Hill St", "Park Ave", "Sunset Blvd", "River Rd", "Church St", "Highland Ave", "Mill Rd", "Spring St"}
	cities = [][3]string{{"Portland", "OR", "97201"}, {"Austin", "TX", "73301"}, {"Denver", "CO", "80202"},
		{"Columbus", "OH", "43004"}, {"Raleigh", "NC", "27601"}, {"Madison", "WI", "53703"}, {"Boise", "ID", "83702"},
		{"Tucson", "AZ", "85701"}, {"Omaha", "NE", "68102"}, {"Richmond", "VA", "23219"}, {"Spokane", "WA", "99201"},
		{"Savannah", "GA", "31401"}, {"Burlington", "VT", "05401"}, {"Fresno", "CA", "93721"}, {"Tulsa", "OK", "74103"}}
	domains     = []string{"example.com", "example.org", "example.net", "mail.example.com"}
	timezones   = []string{"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"}
	skillNames  = []string{"First Aid", "Spanish", "Driving", "Cooking", "Carpentry", "Tutoring", "Photography", "Event Setup"}
	tshirtSizes = []string{"S", "M", "L", "XL", "XXL"}
	referrals   = []string{"friend", "church", "school", "social media", "employer", "website"}
	activities  = []string{"Food Bank Sorting", "Park Cleanup", "Tutoring Session", "Habitat Build", "Senior Visits",
		"Animal Shelter Care", "Blood Drive", "Community Garden", "Coat Drive", "Literacy Night"}
	groupNames = []string{"Weekend Crew", "Youth Leaders", "Corporate Team", "Board Volunteers", "Skilled Trades",
		"Drivers", "Kitchen Team", "Welcome Committee", "Students", "Retirees"}
	campaignNames = []string{"Spring Service Month", "Holiday Giving", "Back to School", "Summer of Service",
		"Earth Day", "Day of Caring", "Winter Warmth", "Hunger Action Month"}
	formNames = []string{"Volunteer Waiver", "Event Feedback", "Skills Survey", "Background Check Consent",
		"T-Shirt Order", "Emergency Contact"}
	certNames = []string{"CPR Certified", "Food Handler", "Background Checked", "Forklift Trained", "Youth Protection"}
	orgNames  = []string{"Harbor Hope", "Green Valley Volunteers", "City Mission", "Helping Hands", "Bright Futures",
		"Neighbors United", "River Valley Relief", "Open Door Alliance"}
	descriptions = []string{"", "Bring water and closed-toe shoes.", "No experience needed.",
		"Training provided on site.", "Family friendly; ages 12+ with a parent."}
)

// genUser makes user number id of a tenant from its random source.
func (t *tenant) genUser(r *rand.Rand, id int64) user {
	p := t.pool
	fi, li := r.IntN(len(firstNames)), r.IntN(len(lastNames))
	c := cities[r.IntN(len(cities))]
	u := user{
		first:    p.sym(firstNames[fi]),
		last:     p.sym(lastNames[li]),
		phone:    phoneNumber(200+r.IntN(700), r.IntN(10000)),
		street:   p.sym(strconv.Itoa(1+r.IntN(9999)) + " " + streets[r.IntN(len(streets))]),
		city:     p.sym(c[0]),
		state:    p.sym(c[1]),
		zip:      p.sym(c[2]),
		country:  p.sym("US"),
		birthday: int32(-7300 + r.IntN(18250)), // 1950..1999
		gender:   uint8(r.IntN(3)),
		status:   pick(r, 85, 10),
		member:   pick(r, 80, 12, 5),
		role:     pick(r, 90, 8),
	}
	if r.IntN(20) == 0 {
		u.birthday = 0 // not every volunteer gives one
	}
	u.email = emailFor(firstNames[fi], lastNames[li], id, 0, r.IntN(len(domains)))
	return u
}

// phoneNumber formats +1-AAA-555-NNNN.
func phoneNumber(area, line int) string {
	var b [16]byte
	p := append(b[:0], "+1-"...)
	p = appendDigits(p, area, 3)
	p = append(p, "-555-"...)
	p = appendDigits(p, line, 4)
	return string(p)
}

// emailFor builds a unique address: the id keeps it unique in the tenant,
// n counts later changes.
func emailFor(first, last string, id int64, n, domain int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(first + "." + last) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.':
			b.WriteRune(r)
		case r == 'á':
			b.WriteByte('a')
		}
	}
	s := b.String() + strconv.FormatInt(id, 10)
	if n > 0 {
		s += "." + strconv.Itoa(n)
	}
	return s + "@" + domains[domain%len(domains)]
}

// pick returns index i with weight w[i] percent; the rest goes to len(w).
func pick(r *rand.Rand, w ...int) uint8 {
	x := r.IntN(100)
	for i, v := range w {
		if x < v {
			return uint8(i)
		}
		x -= v
	}
	return uint8(len(w))
}

// generate fills a new tenant with nUsers users and proportional reference
// data, created over three years before the anchor (µs). One in ten users
// comes from a bulk import: a few hundred rows sharing one timestamp.
func (t *tenant) generate(nUsers int, anchor int64) {
	r := rand.New(rand.NewPCG(t.seed, 1))
	const span = 3 * 365 * 86400 * 1e6
	start := anchor - span
	step := int64(span)
	if nUsers > 0 {
		step = span / int64(nUsers+1)
	}
	t.users.grow(nUsers)
	for i := 0; i < nUsers; {
		created := start + int64(i)*step + r.Int64N(max(step, 1))
		n := 1
		if r.IntN(100) == 0 && nUsers > 1000 {
			n = min(100+r.IntN(300), nUsers-i) // a bulk import
		}
		for j := 0; j < n; j++ {
			id := int64(i + 1)
			u := t.genUser(r, id)
			updated := created
			if r.IntN(10) < 3 {
				updated = created + r.Int64N(anchor-created)
			}
			t.users.load(id, created, updated, u)
			t.emails[strings.ToLower(u.email)] = id
			i++
		}
	}

	nCampaigns := clamp(nUsers/1000, 3, 40)
	for i := 1; i <= nCampaigns; i++ {
		created := start + int64(i)*(span/int64(nCampaigns+1))
		day := int32(created/86400e6) + int32(r.IntN(60))
		t.campaigns.load(int64(i), created, created, campaign{
			name:      campaignNames[r.IntN(len(campaignNames))] + " " + strconv.Itoa(2023+i%4),
			status:    pick(r, 50, 40),
			startsOn:  day,
			endsOn:    day + int32(7+r.IntN(60)),
			goalHours: int32(100 * (1 + r.IntN(50))),
		})
	}

	nProjects := clamp(nUsers/20, 5, 100000)
	anchorDay := int32(anchor / 86400e6)
	for i := 1; i <= nProjects; i++ {
		created := start + int64(i)*(span/int64(nProjects+1))
		c := cities[r.IntN(len(cities))]
		updated := created
		if r.IntN(4) == 0 {
			updated = created + r.Int64N(anchor-created)
		}
		t.projects.load(int64(i), created, updated, project{
			name:        activities[r.IntN(len(activities))] + " #" + strconv.Itoa(i),
			description: t.pool.sym(descriptions[r.IntN(len(descriptions))]),
			status:      pick(r, 70, 20),
			campaignID:  int64(1 + r.IntN(nCampaigns)),
			city:        t.pool.sym(c[0]),
			state:       t.pool.sym(c[1]),
			capacity:    int32(5 + r.IntN(30)),
			firstDay:    anchorDay - 180 + int32(r.IntN(360)),
			dates:       uint8(1 + r.IntN(12)),
			every:       uint8([]int{1, 7, 7, 14}[r.IntN(4)]),
		})
	}

	nGroups := clamp(nUsers/100, 3, 10000)
	members := make([][]int64, nGroups)
	for _, id := range t.users.ids {
		if h := hash64(t.seed, uint64(id), 3); h%3 != 0 {
			g := int(h>>8) % nGroups
			members[g] = append(members[g], id)
		}
	}
	for i := 1; i <= nGroups; i++ {
		created := start + int64(i)*(span/int64(nGroups+1))
		t.groups.load(int64(i), created, created+r.Int64N(anchor-created), group{
			name:        groupNames[r.IntN(len(groupNames))] + " " + strconv.Itoa(i),
			description: t.pool.sym(descriptions[r.IntN(len(descriptions))]),
			members:     members[i-1],
		})
	}

	nForms := clamp(nUsers/500, 3, 2000)
	for i := 1; i <= nForms; i++ {
		created := start + int64(i)*(span/int64(nForms+1))
		t.forms.load(int64(i), created, created, form{
			name:        formNames[r.IntN(len(formNames))] + " " + strconv.Itoa(i),
			projectID:   int64(1 + r.IntN(nProjects)),
			status:      pick(r, 70, 15),
			completions: int32(r.IntN(clamp(nUsers/10, 1, 300))),
		})
	}

	nCerts := clamp(nUsers/10, 5, 100000)
	for i := 1; i <= nCerts; i++ {
		created := start + int64(i)*(span/int64(nCerts+1))
		day := int32(created / 86400e6)
		uid := int64(1)
		if nUsers > 0 {
			uid = int64(1 + r.IntN(nUsers))
		}
		t.certificates.load(int64(i), created, created, certificate{
			userID:   uid,
			name:     t.pool.sym(certNames[r.IntN(len(certNames))]),
			issuedOn: day,
			expireOn: day + 365*int32(1+r.IntN(3)),
		})
	}
	for _, rb := range []interface{ rebuild() }{&t.users, &t.campaigns, &t.projects, &t.groups, &t.forms, &t.certificates} {
		rb.rebuild()
	}
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }
