package wod

// Badge is a level earned by finishing workshops, as in the original:
// Apprentice (3), Expert (5), Hero (7), Super Hero (10), Legend (15).
type Badge struct {
	Level     int    `json:"level"`
	Name      string `json:"name"`
	Workshops int    `json:"workshops"` // finished workshops needed
	Image     string `json:"image"`
}

// Badges are the levels in increasing order.
var Badges = []Badge{
	{Level: 1, Name: "Apprentice", Workshops: 3, Image: "3_workshops_apprentice.jpg"},
	{Level: 2, Name: "Expert", Workshops: 5, Image: "5_workshops_expert.jpg"},
	{Level: 3, Name: "Hero", Workshops: 7, Image: "7_workshops_hero.jpg"},
	{Level: 4, Name: "Super Hero", Workshops: 10, Image: "10_workshops_superhero.jpg"},
	{Level: 5, Name: "Legend", Workshops: 15, Image: "15_workshops_legend.jpg"},
}

// BadgeFor returns the badge earned with n distinct finished workshops, or
// nil below the first level.
func BadgeFor(n int) *Badge {
	var b *Badge
	for i := range Badges {
		if n >= Badges[i].Workshops {
			b = &Badges[i]
		}
	}
	return b
}
